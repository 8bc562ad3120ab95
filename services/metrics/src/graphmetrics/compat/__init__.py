"""Drop-in surfaces of other metrics libraries, so existing code moves by changing its imports."""
