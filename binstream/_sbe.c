/*
 * binstream._sbe: Binance's SBE stream frames decoded to dicts, in C.
 *
 * decode(frame) is binstream/sbe.py's function of the same name, which says what the
 * schema holds and what each event becomes; that Python version is the reference, used
 * where this module was not built, and tests/model/test_sbe.py checks that both give the
 * same dicts, and the same SbeError messages, for any frame.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

static PyObject *SbeError;
static PyObject *k_e, *k_E, *k_s, *k_t, *k_p, *k_q, *k_T, *k_m, *k_M, *k_u, *k_U, *k_b,
    *k_B, *k_a, *k_A, *k_lastUpdateId, *k_bids, *k_asks;
static PyObject *v_trade, *v_bestBidAsk, *v_depthSnapshot, *v_depthUpdate;

typedef struct {
    const unsigned char *buf;
    Py_ssize_t size;
} Frame;

static int64_t rd_i64(const unsigned char *p) { int64_t v; memcpy(&v, p, 8); return v; }
static uint32_t rd_u32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint16_t rd_u16(const unsigned char *p) { uint16_t v; memcpy(&v, p, 2); return v; }

/* 0 if frame holds `end` bytes; else sets SbeError as sbe._need does. */
static int
need(const Frame *f, Py_ssize_t end, const char *what)
{
    if (end > f->size) {
        PyErr_Format(SbeError, "SBE frame cut short: %s needs %zd bytes, the frame has %zd",
                     what, end, f->size);
        return -1;
    }
    return 0;
}

/* The exact decimal mantissa * 10**exponent as a str (sbe.decimal_text). */
static PyObject *
decimal_text(int64_t mantissa, int exponent)
{
    char digits[24];
    char out[24 + 130 + 4];
    uint64_t magnitude = mantissa < 0 ? (uint64_t)0 - (uint64_t)mantissa : (uint64_t)mantissa;
    int n = 0;
    do {
        digits[n++] = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude);
    Py_ssize_t len = 0;
    if (mantissa < 0) {
        out[len++] = '-';
    }
    if (exponent >= 0) {
        if (mantissa == 0) {
            return PyUnicode_FromStringAndSize("0", 1);
        }
        for (int i = n - 1; i >= 0; i--) out[len++] = digits[i];
        for (int i = 0; i < exponent; i++) out[len++] = '0';
        return PyUnicode_FromStringAndSize(out, len);
    }
    int scale = -exponent;
    int width = n > scale + 1 ? n : scale + 1; /* digits after padding with zeros */
    for (int i = width - 1; i >= 0; i--) {
        if (i == scale - 1) out[len++] = '.';
        out[len++] = i < n ? digits[i] : '0';
    }
    return PyUnicode_FromStringAndSize(out, len);
}

static int
set_decimal(PyObject *d, PyObject *key, int64_t mantissa, int exponent)
{
    PyObject *v = decimal_text(mantissa, exponent);
    if (v == NULL) return -1;
    int r = PyDict_SetItem(d, key, v);
    Py_DECREF(v);
    return r;
}

static int
set_long(PyObject *d, PyObject *key, int64_t value)
{
    PyObject *v = PyLong_FromLongLong(value);
    if (v == NULL) return -1;
    int r = PyDict_SetItem(d, key, v);
    Py_DECREF(v);
    return r;
}

/* The varString8 symbol at `at` (sbe._symbol). */
static PyObject *
symbol_at(const Frame *f, Py_ssize_t at)
{
    if (need(f, at + 1, "the symbol's length")) return NULL;
    Py_ssize_t size = f->buf[at];
    if (need(f, at + 1 + size, "the symbol")) return NULL;
    PyObject *s = PyUnicode_DecodeUTF8((const char *)f->buf + at + 1, size, "strict");
    if (s == NULL) {
        PyErr_Clear();
        PyErr_SetString(SbeError, "SBE symbol is not UTF-8");
    }
    return s;
}

/* A groupSize16Encoding group of price levels (sbe._levels). */
static PyObject *
levels_at(const Frame *f, Py_ssize_t *at, int pe, int qe, const char *what)
{
    char label[64];
    PyOS_snprintf(label, sizeof label, "the %s group's header", what);
    if (need(f, *at + 4, label)) return NULL;
    Py_ssize_t block = rd_u16(f->buf + *at);
    Py_ssize_t count = rd_u16(f->buf + *at + 2);
    if (block < 16) {
        PyErr_Format(SbeError, "SBE %s entries are %zd bytes, fewer than the schema's 16",
                     what, block);
        return NULL;
    }
    *at += 4;
    PyOS_snprintf(label, sizeof label, "%zd %s", count, what);
    if (need(f, *at + block * count, label)) return NULL;
    PyObject *list = PyList_New(count);
    if (list == NULL) return NULL;
    for (Py_ssize_t i = 0; i < count; i++) {
        const unsigned char *p = f->buf + *at;
        PyObject *price = decimal_text(rd_i64(p), pe);
        PyObject *qty = price ? decimal_text(rd_i64(p + 8), qe) : NULL;
        PyObject *pair = qty ? PyList_New(2) : NULL;
        if (pair == NULL) {
            Py_XDECREF(price);
            Py_XDECREF(qty);
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(pair, 0, price);
        PyList_SET_ITEM(pair, 1, qty);
        PyList_SET_ITEM(list, i, pair);
        *at += block;
    }
    return list;
}

static PyObject *
decode_trades(const Frame *f, Py_ssize_t at)
{
    const unsigned char *root = f->buf + 8;
    int64_t event_time = rd_i64(root), transact_time = rd_i64(root + 8);
    int pe = (int8_t)root[16], qe = (int8_t)root[17];
    if (need(f, at + 6, "the trades group's header")) return NULL;
    Py_ssize_t entry = rd_u16(f->buf + at);
    Py_ssize_t count = rd_u32(f->buf + at + 2);
    if (entry < 25) {
        PyErr_Format(SbeError, "SBE trade entries are %zd bytes, fewer than the schema's 25",
                     entry);
        return NULL;
    }
    at += 6;
    char label[64];
    PyOS_snprintf(label, sizeof label, "%zd trades", count);
    if (need(f, at + entry * count, label)) return NULL;
    Py_ssize_t first = at;
    at += entry * count;
    PyObject *symbol = symbol_at(f, at);
    if (symbol == NULL) return NULL;
    PyObject *list = PyList_New(count);
    if (list == NULL) {
        Py_DECREF(symbol);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        const unsigned char *p = f->buf + first + i * entry;
        unsigned char maker = p[24];
        PyObject *d = NULL;
        if (maker > 1) {
            PyErr_Format(SbeError, "SBE boolEnum holds %d, not 0 or 1", (int)maker);
            goto fail;
        }
        d = PyDict_New();
        if (d == NULL
            || PyDict_SetItem(d, k_e, v_trade) || set_long(d, k_E, event_time)
            || PyDict_SetItem(d, k_s, symbol) || set_long(d, k_t, rd_i64(p))
            || set_decimal(d, k_p, rd_i64(p + 8), pe) || set_decimal(d, k_q, rd_i64(p + 16), qe)
            || set_long(d, k_T, transact_time)
            || PyDict_SetItem(d, k_m, maker ? Py_True : Py_False)
            || PyDict_SetItem(d, k_M, Py_True)) {
            goto fail;
        }
        PyList_SET_ITEM(list, i, d);
        continue;
    fail:
        Py_XDECREF(d);
        Py_DECREF(list);
        Py_DECREF(symbol);
        return NULL;
    }
    Py_DECREF(symbol);
    return list;
}

static PyObject *
decode_best_bid_ask(const Frame *f, Py_ssize_t at)
{
    const unsigned char *root = f->buf + 8;
    int pe = (int8_t)root[16], qe = (int8_t)root[17];
    PyObject *symbol = symbol_at(f, at);
    if (symbol == NULL) return NULL;
    PyObject *d = PyDict_New();
    int bad = d == NULL
        || PyDict_SetItem(d, k_e, v_bestBidAsk) || set_long(d, k_E, rd_i64(root))
        || PyDict_SetItem(d, k_s, symbol) || set_long(d, k_u, rd_i64(root + 8))
        || set_decimal(d, k_b, rd_i64(root + 18), pe) || set_decimal(d, k_B, rd_i64(root + 26), qe)
        || set_decimal(d, k_a, rd_i64(root + 34), pe) || set_decimal(d, k_A, rd_i64(root + 42), qe);
    Py_DECREF(symbol);
    if (bad) {
        Py_XDECREF(d);
        return NULL;
    }
    return d;
}

static PyObject *
decode_depth(const Frame *f, Py_ssize_t at, int diff)
{
    const unsigned char *root = f->buf + 8;
    int off = diff ? 24 : 16;
    int pe = (int8_t)root[off], qe = (int8_t)root[off + 1];
    PyObject *bids = levels_at(f, &at, pe, qe, "bids");
    if (bids == NULL) return NULL;
    PyObject *asks = levels_at(f, &at, pe, qe, "asks");
    if (asks == NULL) {
        Py_DECREF(bids);
        return NULL;
    }
    PyObject *symbol = symbol_at(f, at);
    PyObject *d = symbol ? PyDict_New() : NULL;
    int bad = d == NULL || PyDict_SetItem(d, k_e, diff ? v_depthUpdate : v_depthSnapshot)
        || set_long(d, k_E, rd_i64(root)) || PyDict_SetItem(d, k_s, symbol);
    if (!bad && diff) {
        bad = set_long(d, k_U, rd_i64(root + 8)) || set_long(d, k_u, rd_i64(root + 16))
            || PyDict_SetItem(d, k_b, bids) || PyDict_SetItem(d, k_a, asks);
    }
    else if (!bad) {
        bad = set_long(d, k_lastUpdateId, rd_i64(root + 8)) || PyDict_SetItem(d, k_bids, bids)
            || PyDict_SetItem(d, k_asks, asks);
    }
    Py_XDECREF(symbol);
    Py_DECREF(bids);
    Py_DECREF(asks);
    if (bad) {
        Py_XDECREF(d);
        return NULL;
    }
    return d;
}

static PyObject *
decode(PyObject *module, PyObject *arg)
{
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    Frame f = {(const unsigned char *)view.buf, view.len};
    PyObject *result = NULL;
    if (need(&f, 8, "the message header")) goto done;
    Py_ssize_t block = rd_u16(f.buf);
    int template = rd_u16(f.buf + 2), schema = rd_u16(f.buf + 4), version = rd_u16(f.buf + 6);
    if (schema != 1) {
        PyErr_Format(SbeError, "SBE schema %d:%d is not the stream schema 1", schema, version);
        goto done;
    }
    Py_ssize_t root;
    switch (template) {
    case 10000: root = 18; break;
    case 10001: root = 50; break;
    case 10002: root = 18; break;
    case 10003: root = 26; break;
    default:
        PyErr_Format(SbeError, "unknown SBE template %d (the stream schema has 10000-10003)",
                     template);
        goto done;
    }
    if (block < root) {
        PyErr_Format(SbeError, "SBE template %d block is %zd bytes, fewer than %zd", template,
                     block, root);
        goto done;
    }
    if (need(&f, 8 + block, "the root block")) goto done;
    Py_ssize_t at = 8 + block;
    if (template == 10000) {
        result = decode_trades(&f, at);
        goto done;
    }
    PyObject *one = template == 10001 ? decode_best_bid_ask(&f, at)
                                      : decode_depth(&f, at, template == 10003);
    if (one != NULL) {
        result = PyList_New(1);
        if (result == NULL) Py_DECREF(one);
        else PyList_SET_ITEM(result, 0, one);
    }
done:
    PyBuffer_Release(&view);
    return result;
}

static PyMethodDef methods[] = {
    {"decode", decode, METH_O, "The events of one SBE frame (see binstream.sbe.decode)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "binstream._sbe", "binstream.sbe.decode in C.", -1, methods,
};

#define INTERN(var, text) if ((var = PyUnicode_InternFromString(text)) == NULL) return NULL

PyMODINIT_FUNC
PyInit__sbe(void)
{
    PyObject *reference = PyImport_ImportModule("binstream.sbe");
    if (reference == NULL) return NULL;
    SbeError = PyObject_GetAttrString(reference, "SbeError");
    Py_DECREF(reference);
    if (SbeError == NULL) return NULL;
    INTERN(k_e, "e"); INTERN(k_E, "E"); INTERN(k_s, "s"); INTERN(k_t, "t"); INTERN(k_p, "p");
    INTERN(k_q, "q"); INTERN(k_T, "T"); INTERN(k_m, "m"); INTERN(k_M, "M"); INTERN(k_u, "u");
    INTERN(k_U, "U"); INTERN(k_b, "b"); INTERN(k_B, "B"); INTERN(k_a, "a"); INTERN(k_A, "A");
    INTERN(k_lastUpdateId, "lastUpdateId"); INTERN(k_bids, "bids"); INTERN(k_asks, "asks");
    INTERN(v_trade, "trade"); INTERN(v_bestBidAsk, "bestBidAsk");
    INTERN(v_depthSnapshot, "depthSnapshot"); INTERN(v_depthUpdate, "depthUpdate");
    return PyModule_Create(&module_def);
}
