/*
 * binstream.transport._framesplit: the websockets transport's bulk frame parser, in C.
 *
 * take_frames(buf, pos, limit) is binstream/transport/framesplit.py's function of the same name,
 * which says what it takes and returns; that Python version is used where this module was
 * not built, and tests/transport/test_framesplit.py checks that both agree on any bytes.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

static PyObject *
take_frames(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "take_frames(buf, pos, limit)");
        return NULL;
    }
    PyObject *source = args[0];
    if (!PyBytes_Check(source)) {
        PyErr_SetString(PyExc_TypeError, "take_frames: buf must be bytes");
        return NULL;
    }
    Py_ssize_t pos = PyLong_AsSsize_t(args[1]);
    if (pos == -1 && PyErr_Occurred()) {
        return NULL;
    }
    Py_ssize_t limit = PyLong_AsSsize_t(args[2]);
    if (limit == -1 && PyErr_Occurred()) {
        return NULL;
    }
    const unsigned char *buf = (const unsigned char *)PyBytes_AS_STRING(source);
    const Py_ssize_t size = PyBytes_GET_SIZE(source);
    if (pos < 0 || pos > size) {
        PyErr_SetString(PyExc_ValueError, "take_frames: pos outside buf");
        return NULL;
    }
    PyObject *frames = PyList_New(0);
    if (frames == NULL) {
        return NULL;
    }
    int waiting = 1; /* stopped at a data frame not complete in buf yet */
    while (1) {
        waiting = 1;
        if (size - pos < 2) {
            break;
        }
        const unsigned char first = buf[pos];
        if (first != 0x81 && first != 0x82) {
            waiting = 0;
            break;
        }
        uint64_t length = buf[pos + 1];
        Py_ssize_t start;
        if (length < 126) {
            start = pos + 2;
        }
        else if (length == 126) {
            if (size - pos < 4) {
                break;
            }
            length = ((uint64_t)buf[pos + 2] << 8) | buf[pos + 3];
            start = pos + 4;
        }
        else if (length == 127) {
            if (size - pos < 10) {
                break;
            }
            length = 0;
            for (int i = 2; i < 10; i++) {
                length = (length << 8) | buf[pos + i];
            }
            start = pos + 10;
        }
        else {
            waiting = 0;
            break; /* the mask bit: a server never masks */
        }
        if (limit >= 0 && length > (uint64_t)limit) {
            waiting = 0;
            break;
        }
        if (length > (uint64_t)(size - start)) {
            break; /* the rest of this frame has not arrived */
        }
        const char *payload = (const char *)buf + start;
        PyObject *frame;
        if (first == 0x81) {
            frame = PyUnicode_DecodeUTF8(payload, (Py_ssize_t)length, "strict");
            if (frame == NULL) {
                if (PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
                    PyErr_Clear();
                    waiting = 0;
                    break; /* the Python parser hands it to websockets, which fails it */
                }
                Py_DECREF(frames);
                return NULL;
            }
        }
        else {
            frame = PyBytes_FromStringAndSize(payload, (Py_ssize_t)length);
            if (frame == NULL) {
                Py_DECREF(frames);
                return NULL;
            }
        }
        int failed = PyList_Append(frames, frame);
        Py_DECREF(frame);
        if (failed) {
            Py_DECREF(frames);
            return NULL;
        }
        pos = start + (Py_ssize_t)length;
    }
    PyObject *stop = PyLong_FromSsize_t(pos);
    if (stop == NULL) {
        Py_DECREF(frames);
        return NULL;
    }
    PyObject *result = PyTuple_Pack(3, frames, stop, waiting ? Py_True : Py_False);
    Py_DECREF(frames);
    Py_DECREF(stop);
    return result;
}

static PyMethodDef methods[] = {
    {"take_frames", (PyCFunction)(void (*)(void))take_frames, METH_FASTCALL,
     "take_frames(buf, pos, limit) -> (frames, stop, waiting): see binstream/transport/framesplit.py."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    "binstream.transport._framesplit",
    "The websockets transport's bulk frame parser, in C (optional: Python does the same).",
    -1,
    methods,
};

PyMODINIT_FUNC
PyInit__framesplit(void)
{
    return PyModule_Create(&module);
}
