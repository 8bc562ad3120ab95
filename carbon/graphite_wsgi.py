"""graphite-web's WSGI application, with the static files its UI pages need (gunicorn serves none).

Debian installs them in /usr/share/graphite-web/static. graphite-web's own WhiteNoise hook cannot be
used: it reads `whitenoise.__version__`, which WhiteNoise 6 (Debian bookworm's) no longer has, takes
it for a version older than 3.2 and imports a module that was removed. So WhiteNoise wraps the
application here instead; without it /, /composer/ and /dashboard/ load as blank pages.
"""
import os

from django.core.wsgi import get_wsgi_application
from whitenoise import WhiteNoise

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "graphite.settings")
application = WhiteNoise(get_wsgi_application(), root="/usr/share/graphite-web/static", prefix="static/")
