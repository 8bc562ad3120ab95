/* Optional C versions of the hottest paths: counting, recording a histogram value and timing a block.
 *
 * Everything here has a pure-Python twin (counters.py, reservoirs/pending.py, timers.py) with the same behaviour,
 * used when this module is not built or GRAPHMETRICS_PURE_PYTHON is set; the unit tests run both.
 * Only the per-value work lives here: errors are raised by the Python code it is handed, and
 * folding values into buckets, meter ticks and decorating stay in Python. It calls only what it is
 * handed and public names (Rates.next_tick, Rates.tick); docs/library.md lists the twins.
 *
 * Thread safety comes from the GIL: an append runs without calling back into Python, so it cannot
 * be interleaved with another thread's append or take().
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stddef.h>

/* ---- Pending: the values a sketch has not folded into buckets yet --------------------------- */

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;  /* calls skip building an argument tuple */
    double *values;
    Py_ssize_t size;
    Py_ssize_t capacity;
    Py_ssize_t fold_at;
    PyObject *fold;    /* called with no arguments once size reaches fold_at */
    PyObject *reject;  /* called with a value that is not a finite number: raises the clear error */
} Pending;

static PyObject *pending_vectorcall(PyObject *, PyObject *const *, size_t, PyObject *);
static PyObject *stopwatch_vectorcall(PyObject *, PyObject *const *, size_t, PyObject *);

static int
pending_append(Pending *self, double value)
{
    if (self->size == self->capacity) {
        Py_ssize_t capacity = self->capacity ? self->capacity * 2 : 16;
        double *grown = PyMem_Realloc(self->values, (size_t)capacity * sizeof(double));
        if (grown == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        self->values = grown;
        self->capacity = capacity;
    }
    self->values[self->size++] = value;
    if (self->size >= self->fold_at) {
        PyObject *result = PyObject_CallNoArgs(self->fold);
        if (result == NULL)
            return -1;
        Py_DECREF(result);
    }
    return 0;
}

static int
pending_init(Pending *self, PyObject *args, PyObject *kwds)
{
    static char *keywords[] = {"fold_at", "fold", "reject", NULL};
    Py_ssize_t fold_at;
    PyObject *fold, *reject;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "nOO", keywords, &fold_at, &fold, &reject))
        return -1;
    if (fold_at < 1) {
        PyErr_SetString(PyExc_ValueError, "fold_at must be at least 1");
        return -1;
    }
    self->fold_at = fold_at;
    self->vectorcall = pending_vectorcall;
    Py_INCREF(fold);
    Py_XSETREF(self->fold, fold);
    Py_INCREF(reject);
    Py_XSETREF(self->reject, reject);
    return 0;
}

/* Record one value: a finite number is appended (folding at fold_at), anything else goes to reject. */
static PyObject *
pending_record(Pending *self, PyObject *value)
{
    double x;
    if (self->fold == NULL) {
        PyErr_SetString(PyExc_TypeError, "Pending was not initialised");
        return NULL;
    }
    if (PyFloat_CheckExact(value)) {
        x = PyFloat_AS_DOUBLE(value);
    }
    else if (PyUnicode_Check(value) || PyBytes_Check(value) || PyByteArray_Check(value)) {
        x = NAN;  /* PyFloat_AsDouble would not take them either; reject() names the type */
    }
    else {
        x = PyFloat_AsDouble(value);
        if (x == -1.0 && PyErr_Occurred()) {
            PyErr_Clear();
            x = NAN;
        }
    }
    if (!isfinite(x))
        return PyObject_CallOneArg(self->reject, value);  /* raises; returns its result if it did not */
    if (pending_append(self, x) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* pending(value): the sketch's update. */
static PyObject *
pending_vectorcall(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    if (PyVectorcall_NARGS(nargsf) != 1 || (kwnames != NULL && PyTuple_GET_SIZE(kwnames))) {
        PyErr_SetString(PyExc_TypeError, "update() takes exactly one positional argument");
        return NULL;
    }
    return pending_record((Pending *)self, args[0]);
}

static PyObject *
pending_list(Pending *self, Py_ssize_t count)
{
    PyObject *list = PyList_New(count);
    if (list == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *item = PyFloat_FromDouble(self->values[i]);
        if (item == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, item);
    }
    return list;
}

static PyObject *
pending_tolist(Pending *self, PyObject *Py_UNUSED(ignored))
{
    return pending_list(self, self->size);
}

/* take(): the pending values as a list, leaving none pending. */
static PyObject *
pending_take(Pending *self, PyObject *Py_UNUSED(ignored))
{
    PyObject *list = pending_list(self, self->size);
    if (list != NULL)
        self->size = 0;
    return list;
}

/* Add count to dict[key] (ints). */
static int
dict_add(PyObject *dict, long key, Py_ssize_t count)
{
    PyObject *k = PyLong_FromLong(key);
    if (k == NULL)
        return -1;
    PyObject *old = PyDict_GetItemWithError(dict, k);  /* borrowed */
    PyObject *total;
    if (old != NULL) {
        PyObject *add = PyLong_FromSsize_t(count);
        total = add ? PyNumber_Add(old, add) : NULL;
        Py_XDECREF(add);
    }
    else {
        total = PyErr_Occurred() ? NULL : PyLong_FromSsize_t(count);
    }
    int status = total ? PyDict_SetItem(dict, k, total) : -1;
    Py_XDECREF(total);
    Py_DECREF(k);
    return status;
}

static int
compare_longs(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

/* Count keys[0..n) into dict: a counting array when they span a modest range (the usual case:
 * about 116 buckets per factor of 10), else sorted and counted run by run. */
static int
count_keys(PyObject *dict, long *keys, Py_ssize_t n)
{
    if (n == 0)
        return 0;
    long low = keys[0], high = keys[0];
    for (Py_ssize_t i = 1; i < n; i++) {
        if (keys[i] < low)
            low = keys[i];
        if (keys[i] > high)
            high = keys[i];
    }
    if (high - low < 16384) {
        Py_ssize_t span = (Py_ssize_t)(high - low) + 1;
        Py_ssize_t *counts = PyMem_Calloc((size_t)span, sizeof(Py_ssize_t));
        if (counts == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        for (Py_ssize_t i = 0; i < n; i++)
            counts[keys[i] - low]++;
        int status = 0;
        for (Py_ssize_t i = 0; i < span && status == 0; i++)
            if (counts[i])
                status = dict_add(dict, low + (long)i, counts[i]);
        PyMem_Free(counts);
        return status;
    }
    qsort(keys, (size_t)n, sizeof(long), compare_longs);
    for (Py_ssize_t start = 0, stop; start < n; start = stop) {
        for (stop = start + 1; stop < n && keys[stop] == keys[start]; stop++)
            ;
        if (dict_add(dict, keys[start], stop - start) < 0)
            return -1;
    }
    return 0;
}

/* fold_into(positive, negative, gamma, mult): move every pending value into the bucket dicts (the bucket of
 * v > 0 is ceil(log2(v) * mult), negative values are counted under the bucket of -v) and return
 * (count, zeros, sum, m2, min, max) of the values moved, m2 being the sum of squared deviations from
 * their mean (two passes); None when nothing was pending. The same buckets as _Buckets.add. */
static PyObject *
pending_fold_into(Pending *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4 || !PyDict_CheckExact(args[0]) || !PyDict_CheckExact(args[1])) {
        PyErr_SetString(PyExc_TypeError, "fold_into(positive: dict, negative: dict, gamma: float, mult: float)");
        return NULL;
    }
    double mult = PyFloat_AsDouble(args[3]);  /* gamma is for the Python version's bisection only */
    if (mult == -1.0 && PyErr_Occurred())
        return NULL;
    Py_ssize_t n = self->size;
    if (n == 0)
        Py_RETURN_NONE;
    double *values = self->values;
    double total = 0.0, low = values[0], high = values[0];
    for (Py_ssize_t i = 0; i < n; i++) {
        double v = values[i];
        total += v;
        if (v < low)
            low = v;
        if (v > high)
            high = v;
    }
    double mean = total / (double)n, m2 = 0.0;
    long *keys = PyMem_Malloc((size_t)n * sizeof(long));
    if (keys == NULL)
        return PyErr_NoMemory();
    Py_ssize_t positives = 0, negatives = 0, zeros = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        double v = values[i];
        m2 += (v - mean) * (v - mean);
        if (v > 0.0)
            keys[positives++] = (long)ceil(log2(v) * mult);
    }
    int status = count_keys(args[0], keys, positives);
    if (status == 0 && positives < n) {
        for (Py_ssize_t i = 0; i < n; i++) {
            if (values[i] < 0.0)
                keys[negatives++] = (long)ceil(log2(-values[i]) * mult);
            else if (values[i] == 0.0)
                zeros++;
        }
        status = count_keys(args[1], keys, negatives);
    }
    PyMem_Free(keys);
    self->size = 0;  /* also on a MemoryError (part of the batch may be counted): never counted twice */
    if (status < 0)
        return NULL;
    return Py_BuildValue("(nndddd)", n, zeros, total, m2, low, high);
}

static PyObject *
pending_clear(Pending *self, PyObject *Py_UNUSED(ignored))
{
    self->size = 0;
    Py_RETURN_NONE;
}

static Py_ssize_t
pending_len(Pending *self)
{
    return self->size;
}

static int
pending_traverse(Pending *self, visitproc visit, void *arg)
{
    Py_VISIT(self->fold);
    Py_VISIT(self->reject);
    return 0;
}

static int
pending_gc_clear(Pending *self)
{
    Py_CLEAR(self->fold);
    Py_CLEAR(self->reject);
    return 0;
}

static void
pending_dealloc(Pending *self)
{
    PyObject_GC_UnTrack(self);
    pending_gc_clear(self);
    PyMem_Free(self->values);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
pending_sizeof(Pending *self, PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromSsize_t((Py_ssize_t)sizeof(Pending) + self->capacity * (Py_ssize_t)sizeof(double));
}

static PyMethodDef pending_methods[] = {
    {"append", (PyCFunction)pending_record, METH_O, "Record one value (the same as calling the object)."},
    {"fold_into", (PyCFunction)(void (*)(void))pending_fold_into, METH_FASTCALL,
     "Move the pending values into bucket dicts; return (count, zeros, sum, m2, min, max) or None."},
    {"take", (PyCFunction)pending_take, METH_NOARGS, "The pending values as a list; none are left pending."},
    {"tolist", (PyCFunction)pending_tolist, METH_NOARGS, "A copy of the pending values as a list."},
    {"clear", (PyCFunction)pending_clear, METH_NOARGS, "Forget every pending value."},
    {"__sizeof__", (PyCFunction)pending_sizeof, METH_NOARGS, NULL},
    {NULL}
};

static PySequenceMethods pending_as_sequence = {.sq_length = (lenfunc)pending_len};

static PyTypeObject PendingType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "graphmetrics._speedups.Pending",
    .tp_doc = "Pending(fold_at, fold, reject): values not yet folded; calling it records one.",
    .tp_basicsize = sizeof(Pending),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_vectorcall_offset = offsetof(Pending, vectorcall),
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)pending_init,
    .tp_call = PyVectorcall_Call,
    .tp_traverse = (traverseproc)pending_traverse,
    .tp_clear = (inquiry)pending_gc_clear,
    .tp_dealloc = (destructor)pending_dealloc,
    .tp_methods = pending_methods,
    .tp_as_sequence = &pending_as_sequence,
};

/* ---- Stopwatch: a timer's time(), and the contexts it starts -------------------------------- */

static PyObject *str_next_tick, *str_tick;

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    PyObject *rates;    /* the timer's meters.Rates: its public next_tick and tick(now) */
    Pending *pending;   /* its sketch's pending values */
    PyObject *clock;    /* time.perf_counter, the timer's clock */
    double scale;       /* seconds -> the timer's unit */
    PyObject *decorate; /* decorate(fn): fn timed by this timer */
} Stopwatch;

typedef struct {
    PyObject_HEAD
    Stopwatch *watch;   /* NULL once stopped */
    double start;
    double elapsed;
    int recorded;       /* elapsed holds the recorded duration */
} Context;

static PyTypeObject ContextType;

static int
read_clock(PyObject *clock, double *now)
{
    PyObject *reading = PyObject_CallNoArgs(clock);
    if (reading == NULL)
        return -1;
    *now = PyFloat_AsDouble(reading);
    Py_DECREF(reading);
    return (*now == -1.0 && PyErr_Occurred()) ? -1 : 0;
}

static int
stopwatch_init(Stopwatch *self, PyObject *args, PyObject *kwds)
{
    static char *keywords[] = {"rates", "pending", "clock", "scale", "decorate", NULL};
    PyObject *rates, *pending, *clock, *decorate;
    double scale;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO!OdO", keywords, &rates, &PendingType, &pending, &clock,
                                     &scale, &decorate))
        return -1;
    Py_INCREF(rates);
    Py_XSETREF(self->rates, rates);
    Py_INCREF(decorate);
    Py_XSETREF(self->decorate, decorate);
    Py_INCREF(pending);
    Py_XSETREF(self->pending, (Pending *)pending);
    Py_INCREF(clock);
    Py_XSETREF(self->clock, clock);
    self->scale = scale;
    self->vectorcall = stopwatch_vectorcall;
    return 0;
}

/* watch(): a started context; watch(fn): fn timed. Other arguments are ignored, as in pyformance. */
static PyObject *
stopwatch_vectorcall(PyObject *watch, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Stopwatch *self = (Stopwatch *)watch;
    if (PyVectorcall_NARGS(nargsf) == 1 && (kwnames == NULL || PyTuple_GET_SIZE(kwnames) == 0)
        && PyCallable_Check(args[0]))
        return PyObject_CallOneArg(self->decorate, args[0]);
    Context *context = PyObject_New(Context, &ContextType);
    if (context == NULL)
        return NULL;
    context->watch = NULL;
    context->elapsed = 0.0;
    context->recorded = 0;
    if (read_clock(self->clock, &context->start) < 0) {
        Py_DECREF(context);
        return NULL;
    }
    Py_INCREF(self);
    context->watch = self;
    return (PyObject *)context;
}

static int
stopwatch_traverse(Stopwatch *self, visitproc visit, void *arg)
{
    Py_VISIT(self->rates);
    Py_VISIT(self->pending);
    Py_VISIT(self->clock);
    Py_VISIT(self->decorate);
    return 0;
}

static int
stopwatch_clear(Stopwatch *self)
{
    Py_CLEAR(self->rates);
    Py_CLEAR(self->pending);
    Py_CLEAR(self->clock);
    Py_CLEAR(self->decorate);
    return 0;
}

static void
stopwatch_dealloc(Stopwatch *self)
{
    PyObject_GC_UnTrack(self);
    stopwatch_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject StopwatchType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "graphmetrics._speedups.Stopwatch",
    .tp_doc = "Stopwatch(rates, pending, clock, scale, decorate): a timer's time() (timers.Stopwatch's twin).",
    .tp_basicsize = sizeof(Stopwatch),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_vectorcall_offset = offsetof(Stopwatch, vectorcall),
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)stopwatch_init,
    .tp_call = PyVectorcall_Call,
    .tp_traverse = (traverseproc)stopwatch_traverse,
    .tp_clear = (inquiry)stopwatch_clear,
    .tp_dealloc = (destructor)stopwatch_dealloc,
};

/* Take the context's stopwatch (so it can stop only once), or raise. */
static Stopwatch *
context_take_watch(Context *self)
{
    Stopwatch *watch = self->watch;
    if (watch == NULL)
        PyErr_SetString(PyExc_RuntimeError, "this timer context was already stopped");
    self->watch = NULL;
    return watch;  /* a new reference for the caller, or NULL */
}

static int
context_record(Context *self)
{
    Stopwatch *watch = context_take_watch(self);
    double now, next_tick;
    int status = -1;
    if (watch == NULL)
        return -1;
    if (read_clock(watch->clock, &now) < 0)
        goto done;
    PyObject *next = PyObject_GetAttr(watch->rates, str_next_tick);
    if (next == NULL)
        goto done;
    next_tick = PyFloat_AsDouble(next);
    Py_DECREF(next);
    if (next_tick == -1.0 && PyErr_Occurred())
        goto done;
    if (now >= next_tick) {  /* the lazy 5 s tick, as TimerContext.__exit__: Rates.tick(now) when due */
        PyObject *at = PyFloat_FromDouble(now);
        if (at == NULL)
            goto done;
        PyObject *result = PyObject_CallMethodOneArg(watch->rates, str_tick, at);
        Py_DECREF(at);
        if (result == NULL)
            goto done;
        Py_DECREF(result);
    }
    self->elapsed = (now - self->start) * watch->scale;
    self->recorded = 1;
    status = pending_append(watch->pending, self->elapsed);
done:
    Py_DECREF(watch);
    return status;
}

static PyObject *
context_enter(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    return Py_NewRef(self);
}

static PyObject *
context_exit(Context *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (context_record(self) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *
context_stop(Context *self, PyObject *Py_UNUSED(ignored))
{
    if (context_record(self) < 0)
        return NULL;
    return PyFloat_FromDouble(self->elapsed);
}

/* @timer.time() as a decorator: the context is used up, the function is timed on every call. */
static PyObject *
context_call(Context *self, PyObject *args, PyObject *kwds)
{
    PyObject *fn;
    if (!PyArg_UnpackTuple(args, "TimerContext", 1, 1, &fn))
        return NULL;
    Stopwatch *watch = context_take_watch(self);
    if (watch == NULL)
        return NULL;
    PyObject *timed = PyObject_CallOneArg(watch->decorate, fn);
    Py_DECREF(watch);
    return timed;
}

static PyObject *
context_get_elapsed(Context *self, void *Py_UNUSED(closure))
{
    if (!self->recorded)
        Py_RETURN_NONE;
    return PyFloat_FromDouble(self->elapsed);
}

static void
context_dealloc(Context *self)
{
    Py_XDECREF(self->watch);
    PyObject_Free(self);
}

static PyMethodDef context_methods[] = {
    {"__enter__", (PyCFunction)context_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)(void (*)(void))context_exit, METH_FASTCALL, NULL},
    {"stop", (PyCFunction)context_stop, METH_NOARGS,
     "Record the time since the context was created; return it in the timer's unit."},
    {NULL}
};

static PyGetSetDef context_getset[] = {
    {"elapsed", (getter)context_get_elapsed, NULL, "The duration recorded, in the timer's unit (None before).", NULL},
    {NULL}
};

static PyTypeObject ContextType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "graphmetrics._speedups.TimerContext",
    .tp_doc = "One running measurement: a context manager, or call stop() yourself.",
    .tp_basicsize = sizeof(Context),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_call = (ternaryfunc)context_call,
    .tp_dealloc = (destructor)context_dealloc,
    .tp_methods = context_methods,
    .tp_getset = context_getset,
};

/* ---- Count: a counter's total, the base of counters.Counter ---------------------------------- */

/* The total is a C long long until an update would overflow it, then a Python int for good: exact
 * like the pure-Python counter, whatever the amounts. Every method runs without calling back into
 * Python, so under the GIL an update is atomic: no lock, and a reader never sees half of one. */
typedef struct {
    PyObject_HEAD
    long long small;
    PyObject *big;  /* NULL while the total fits in small */
} Count;

static PyObject *one;

static int
count_add(Count *self, PyObject *amount)
{
    if (self->big == NULL) {
        int overflow;
        long long n = PyLong_AsLongLongAndOverflow(amount, &overflow), total;
        if (n == -1 && PyErr_Occurred())
            return -1;
        if (!overflow && !__builtin_add_overflow(self->small, n, &total)) {
            self->small = total;
            return 0;
        }
        if ((self->big = PyLong_FromLongLong(self->small)) == NULL)
            return -1;
    }
    PyObject *total = PyNumber_Add(self->big, amount);
    if (total == NULL)
        return -1;
    Py_SETREF(self->big, total);
    return 0;
}

/* The amount of inc(n)/dec(n) as an int: what operator.index() accepts; inc also takes anything == 1. */
static PyObject *
count_amount(PyObject *const *args, Py_ssize_t nargs, const char *name, int negate)
{
    if (nargs > 1) {
        PyErr_Format(PyExc_TypeError, "%s() takes at most 1 argument (%zd given)", name, nargs);
        return NULL;
    }
    if (nargs == 0)
        return negate ? PyLong_FromLong(-1) : Py_NewRef(one);
    if (!negate && !PyLong_CheckExact(args[0])) {
        int is_one = PyObject_RichCompareBool(args[0], one, Py_EQ);  /* the pure inc's `n == 1` */
        if (is_one < 0)
            return NULL;
        if (is_one)
            return Py_NewRef(one);
    }
    PyObject *amount = PyNumber_Index(args[0]);
    if (amount == NULL || !negate)
        return amount;
    Py_SETREF(amount, PyNumber_Negative(amount));
    return amount;
}

static PyObject *
count_update(Count *self, PyObject *const *args, size_t nargsf, PyObject *kwnames, const char *name, int negate)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (kwnames != NULL && PyTuple_GET_SIZE(kwnames)) {  /* inc(n=5): the one keyword there is */
        PyObject *key = PyTuple_GET_ITEM(kwnames, 0);
        if (nargs || PyTuple_GET_SIZE(kwnames) > 1 || !PyUnicode_Check(key) || PyUnicode_CompareWithASCIIString(key, "n") != 0) {
            PyErr_Format(PyExc_TypeError, "%s() takes one argument, n", name);
            return NULL;
        }
        nargs = 1;
    }
    if (nargs == 0 && !negate && self->big == NULL && self->small < LLONG_MAX) {
        self->small++;  /* inc(): the hot path */
        Py_RETURN_NONE;
    }
    PyObject *amount = count_amount(args, nargs, name, negate);
    if (amount == NULL)
        return NULL;
    int failed = count_add(self, amount);
    Py_DECREF(amount);
    if (failed)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *
count_inc(Count *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    return count_update(self, args, nargsf, kwnames, "inc", 0);
}

static PyObject *
count_dec(Count *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    return count_update(self, args, nargsf, kwnames, "dec", 1);
}

static PyObject *
count_get(Count *self, PyObject *Py_UNUSED(ignored))
{
    return self->big != NULL ? Py_NewRef(self->big) : PyLong_FromLongLong(self->small);
}

static PyObject *
count_clear(Count *self, PyObject *Py_UNUSED(ignored))
{
    self->small = 0;
    Py_CLEAR(self->big);
    Py_RETURN_NONE;
}

static void
count_dealloc(Count *self)
{
    Py_XDECREF(self->big);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef count_methods[] = {
    {"inc", (PyCFunction)(void (*)(void))count_inc, METH_FASTCALL | METH_KEYWORDS, "Add n (default 1)."},
    {"dec", (PyCFunction)(void (*)(void))count_dec, METH_FASTCALL | METH_KEYWORDS, "Subtract n (default 1)."},
    {"get_count", (PyCFunction)count_get, METH_NOARGS, "The total."},
    {"clear", (PyCFunction)count_clear, METH_NOARGS, "Back to 0."},
    {NULL}
};

static PyTypeObject CountType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "graphmetrics._speedups.Count",
    .tp_doc = "An exact integer total whose updates are atomic under the GIL (base of counters.Counter).",
    .tp_basicsize = sizeof(Count),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_new = PyType_GenericNew,
    .tp_dealloc = (destructor)count_dealloc,
    .tp_methods = count_methods,
};

/* ---- module ----------------------------------------------------------------------------------- */

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "graphmetrics._speedups",
    .m_doc = "C versions of counting, recording a histogram value and timing a block (counters.py, timers.py, reservoirs/pending.py).",
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    if (PyType_Ready(&PendingType) < 0 || PyType_Ready(&StopwatchType) < 0 || PyType_Ready(&ContextType) < 0
        || PyType_Ready(&CountType) < 0)
        return NULL;
    if ((one = PyLong_FromLong(1)) == NULL)
        return NULL;
    str_next_tick = PyUnicode_InternFromString("next_tick");
    str_tick = PyUnicode_InternFromString("tick");
    if (str_next_tick == NULL || str_tick == NULL)
        return NULL;
    PyObject *module = PyModule_Create(&speedups_module);
    if (module == NULL)
        return NULL;
    if (PyModule_AddObjectRef(module, "Pending", (PyObject *)&PendingType) < 0
        || PyModule_AddObjectRef(module, "Stopwatch", (PyObject *)&StopwatchType) < 0
        || PyModule_AddObjectRef(module, "TimerContext", (PyObject *)&ContextType) < 0
        || PyModule_AddObjectRef(module, "Count", (PyObject *)&CountType) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
