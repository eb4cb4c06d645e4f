/*
 * binstream.cli.render._linewrite: JSON lines written straight from the frames' text, in C.
 *
 * write_lines(fd, lines) writes each str of the list ``lines`` followed by a newline to the
 * file descriptor ``fd`` with writev(2), from the strings' own UTF-8 bytes: no joined
 * copy and no encoded copy, and the global interpreter lock is released while it checks
 * the text and writes, so the event loop's thread keeps reading meanwhile. It returns
 * False, having written nothing, when an item is not a str or holds a newline (the
 * caller then writes the batch its own way, see binstream/cli/render/jsonlines.py), True
 * once every byte is written, and raises OSError (BrokenPipeError, ...) as os.write does.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/uio.h>

#ifndef IOV_MAX
#define IOV_MAX 1024
#endif

static char newline[1] = {'\n'};

/* Write every byte the vectors hold, over partial writes and interruptions; 0 or errno. */
static int
write_vectors(int fd, struct iovec *vectors, Py_ssize_t count)
{
    while (count > 0) {
        int batch = count > IOV_MAX ? IOV_MAX : (int)count;
        ssize_t written = writev(fd, vectors, batch);
        if (written < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno;
        }
        while (count > 0 && (size_t)written >= vectors->iov_len) {
            written -= (ssize_t)vectors->iov_len;
            vectors++;
            count--;
        }
        if (count > 0 && written > 0) {
            vectors->iov_base = (char *)vectors->iov_base + written;
            vectors->iov_len -= (size_t)written;
        }
    }
    return 0;
}

static PyObject *
write_lines(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "write_lines(fd, lines)");
        return NULL;
    }
    long descriptor = PyLong_AsLong(args[0]);
    if (descriptor == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (descriptor < 0 || descriptor > INT_MAX) {
        PyErr_SetString(PyExc_ValueError, "write_lines: fd out of range");
        return NULL;
    }
    int fd = (int)descriptor;
    PyObject *lines = args[1];
    if (!PyList_CheckExact(lines)) {
        PyErr_SetString(PyExc_TypeError, "write_lines: lines must be a list");
        return NULL;
    }
    Py_ssize_t count = PyList_GET_SIZE(lines);
    if (count == 0) {
        Py_RETURN_TRUE;
    }
    /* The strings are held here, not through the list, while the lock is released. */
    PyObject **held = PyMem_New(PyObject *, count);
    struct iovec *vectors = PyMem_New(struct iovec, 2 * count);
    if (held == NULL || vectors == NULL) {
        PyMem_Free(held);
        PyMem_Free(vectors);
        return PyErr_NoMemory();
    }
    Py_ssize_t taken = 0;
    int plain = 1;
    for (; taken < count; taken++) {
        PyObject *line = PyList_GET_ITEM(lines, taken);
        if (!PyUnicode_CheckExact(line)) {
            plain = 0;
            break;
        }
        Py_ssize_t size;
        const char *text = PyUnicode_AsUTF8AndSize(line, &size);
        if (text == NULL) {
            PyErr_Clear(); /* a lone surrogate: the caller's encoder says what it is */
            plain = 0;
            break;
        }
        Py_INCREF(line);
        held[taken] = line;
        vectors[2 * taken].iov_base = (void *)text;
        vectors[2 * taken].iov_len = (size_t)size;
        vectors[2 * taken + 1].iov_base = newline;
        vectors[2 * taken + 1].iov_len = 1;
    }
    int failure = 0;
    if (plain) {
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t i = 0; i < count; i++) {
            if (memchr(vectors[2 * i].iov_base, '\n', vectors[2 * i].iov_len) != NULL) {
                plain = 0;
                break;
            }
        }
        if (plain) {
            failure = write_vectors(fd, vectors, 2 * count);
        }
        Py_END_ALLOW_THREADS
    }
    for (Py_ssize_t i = 0; i < taken; i++) {
        Py_DECREF(held[i]);
    }
    PyMem_Free(held);
    PyMem_Free(vectors);
    if (failure) {
        errno = failure;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    return PyBool_FromLong(plain);
}

static PyMethodDef methods[] = {
    {"write_lines", (PyCFunction)(void (*)(void))write_lines, METH_FASTCALL,
     "write_lines(fd, lines) -> bool: see binstream/cli/render/_linewrite.c."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    "binstream.cli.render._linewrite",
    "JSON lines written straight from the frames' text, in C (optional).",
    -1,
    methods,
};

PyMODINIT_FUNC
PyInit__linewrite(void)
{
    return PyModule_Create(&module);
}
