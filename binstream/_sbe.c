/*
 * binstream._sbe: Binance's SBE stream frames decoded, in C.
 *
 * decode(frame) is binstream/sbe.py's function of the same name, which says what the
 * schema holds and what each event becomes; that Python version is the reference, used
 * where this module was not built, and tests/model/test_sbe.py checks that both give the
 * same dicts, and the same SbeError messages, for any frame. decode_batch(frames, wrap)
 * decodes a batch at once (wrapping each event as {"stream", "data"} when asked), and
 * json_lines(frames, wrap) writes the events straight to JSON lines, as orjson would
 * write the dicts: the hot paths of a socket's reader and of the command line's output.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

static PyObject *SbeError;
static PyObject *k_e, *k_E, *k_s, *k_t, *k_p, *k_q, *k_T, *k_m, *k_M, *k_u, *k_U, *k_b,
    *k_B, *k_a, *k_A, *k_lastUpdateId, *k_bids, *k_asks, *k_stream, *k_data;
static PyObject *v_trade, *v_bestBidAsk, *v_depthSnapshot, *v_depthUpdate;
static PyObject *stream_names; /* (template, symbol bytes) -> "symbol@type" */

static int64_t rd_i64(const unsigned char *p) { int64_t v; memcpy(&v, p, 8); return v; }
static uint32_t rd_u32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint16_t rd_u16(const unsigned char *p) { uint16_t v; memcpy(&v, p, 2); return v; }

/* One frame, checked against the schema as sbe.decode checks it. */
typedef struct {
    const unsigned char *buf;
    Py_ssize_t size;
    int template;
    const unsigned char *root;
    int pe, qe;
    /* trades: the entries; depth: bids then asks */
    const unsigned char *rows[2];
    Py_ssize_t count[2], entry[2];
    const unsigned char *symbol;
    Py_ssize_t symbol_size;
} Parsed;

static int
need(const Parsed *f, Py_ssize_t end, const char *what)
{
    if (end > f->size) {
        PyErr_Format(SbeError, "SBE frame cut short: %s needs %zd bytes, the frame has %zd",
                     what, end, f->size);
        return -1;
    }
    return 0;
}

static int
parse_levels(Parsed *f, Py_ssize_t *at, int side, const char *what)
{
    char label[64];
    PyOS_snprintf(label, sizeof label, "the %s group's header", what);
    if (need(f, *at + 4, label)) return -1;
    Py_ssize_t block = rd_u16(f->buf + *at), count = rd_u16(f->buf + *at + 2);
    if (block < 16) {
        PyErr_Format(SbeError, "SBE %s entries are %zd bytes, fewer than the schema's 16",
                     what, block);
        return -1;
    }
    *at += 4;
    PyOS_snprintf(label, sizeof label, "%zd %s", count, what);
    if (need(f, *at + block * count, label)) return -1;
    f->rows[side] = f->buf + *at;
    f->count[side] = count;
    f->entry[side] = block;
    *at += block * count;
    return 0;
}

static int
parse(Parsed *f, const unsigned char *buf, Py_ssize_t size)
{
    memset(f, 0, sizeof *f);
    f->buf = buf;
    f->size = size;
    if (need(f, 8, "the message header")) return -1;
    Py_ssize_t block = rd_u16(buf);
    int template = rd_u16(buf + 2), schema = rd_u16(buf + 4), version = rd_u16(buf + 6);
    if (schema != 1) {
        PyErr_Format(SbeError, "SBE schema %d:%d is not the stream schema 1", schema, version);
        return -1;
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
        return -1;
    }
    if (block < root) {
        PyErr_Format(SbeError, "SBE template %d block is %zd bytes, fewer than %zd", template,
                     block, root);
        return -1;
    }
    if (need(f, 8 + block, "the root block")) return -1;
    f->template = template;
    f->root = buf + 8;
    Py_ssize_t at = 8 + block;
    if (template == 10000) {
        f->pe = (int8_t)f->root[16];
        f->qe = (int8_t)f->root[17];
        if (need(f, at + 6, "the trades group's header")) return -1;
        Py_ssize_t entry = rd_u16(buf + at), count = rd_u32(buf + at + 2);
        if (entry < 25) {
            PyErr_Format(SbeError, "SBE trade entries are %zd bytes, fewer than the schema's 25",
                         entry);
            return -1;
        }
        at += 6;
        char label[64];
        PyOS_snprintf(label, sizeof label, "%zd trades", count);
        if (need(f, at + entry * count, label)) return -1;
        f->rows[0] = buf + at;
        f->count[0] = count;
        f->entry[0] = entry;
        at += entry * count;
    }
    else if (template == 10001) {
        f->pe = (int8_t)f->root[16];
        f->qe = (int8_t)f->root[17];
    }
    else {
        int off = template == 10003 ? 24 : 16;
        f->pe = (int8_t)f->root[off];
        f->qe = (int8_t)f->root[off + 1];
        if (parse_levels(f, &at, 0, "bids") || parse_levels(f, &at, 1, "asks")) return -1;
    }
    if (need(f, at + 1, "the symbol's length")) return -1;
    f->symbol_size = buf[at];
    if (need(f, at + 1 + f->symbol_size, "the symbol")) return -1;
    f->symbol = buf + at + 1;
    return 0;
}

/* The symbol as a str (the same error as sbe._symbol), checked after the rows as there. */
static PyObject *
symbol_of(const Parsed *f)
{
    PyObject *s = PyUnicode_DecodeUTF8((const char *)f->symbol, f->symbol_size, "strict");
    if (s == NULL) {
        PyErr_Clear();
        PyErr_SetString(SbeError, "SBE symbol is not UTF-8");
    }
    return s;
}

static int
check_bools(const Parsed *f)
{
    if (f->template != 10000) return 0;
    for (Py_ssize_t i = 0; i < f->count[0]; i++) {
        unsigned char maker = f->rows[0][i * f->entry[0] + 24];
        if (maker > 1) {
            PyErr_Format(SbeError, "SBE boolEnum holds %d, not 0 or 1", (int)maker);
            return -1;
        }
    }
    return 0;
}

/* -- decimals --------------------------------------------------------------------------- */

/* Writes mantissa * 10**exponent into out (at least 160 bytes); returns its length. */
static Py_ssize_t
decimal_chars(int64_t mantissa, int exponent, char *out)
{
    char digits[24];
    uint64_t magnitude = mantissa < 0 ? (uint64_t)0 - (uint64_t)mantissa : (uint64_t)mantissa;
    int n = 0;
    do {
        digits[n++] = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude);
    Py_ssize_t len = 0;
    if (exponent >= 0 && mantissa == 0) {
        out[0] = '0';
        return 1;
    }
    if (mantissa < 0) out[len++] = '-';
    if (exponent >= 0) {
        for (int i = n - 1; i >= 0; i--) out[len++] = digits[i];
        for (int i = 0; i < exponent; i++) out[len++] = '0';
        return len;
    }
    int scale = -exponent;
    int width = n > scale + 1 ? n : scale + 1;
    for (int i = width - 1; i >= 0; i--) {
        if (i == scale - 1) out[len++] = '.';
        out[len++] = i < n ? digits[i] : '0';
    }
    return len;
}

static PyObject *
decimal_text(int64_t mantissa, int exponent)
{
    char out[160];
    Py_ssize_t len = decimal_chars(mantissa, exponent, out);
    PyObject *text = PyUnicode_New(len, 127); /* ASCII: no UTF-8 decoding to do */
    if (text != NULL) memcpy(PyUnicode_1BYTE_DATA(text), out, len);
    return text;
}

/* -- dicts ------------------------------------------------------------------------------ */

static int
set_new(PyObject *d, PyObject *key, PyObject *value)
{
    if (value == NULL) return -1;
    int r = PyDict_SetItem(d, key, value);
    Py_DECREF(value);
    return r;
}

static PyObject *
levels_list(const Parsed *f, int side)
{
    PyObject *list = PyList_New(f->count[side]);
    if (list == NULL) return NULL;
    for (Py_ssize_t i = 0; i < f->count[side]; i++) {
        const unsigned char *p = f->rows[side] + i * f->entry[side];
        PyObject *pair = PyList_New(2);
        PyObject *price = pair ? decimal_text(rd_i64(p), f->pe) : NULL;
        PyObject *qty = price ? decimal_text(rd_i64(p + 8), f->qe) : NULL;
        if (qty == NULL) {
            Py_XDECREF(price);
            Py_XDECREF(pair);
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(pair, 0, price);
        PyList_SET_ITEM(pair, 1, qty);
        PyList_SET_ITEM(list, i, pair);
    }
    return list;
}

/* The stream name of a frame ("bnbbtc@trade"), cached per template and symbol. */
static PyObject *
stream_name(const Parsed *f, PyObject *symbol)
{
    char key[260];
    key[0] = (char)(f->template - 10000);
    memcpy(key + 1, f->symbol, f->symbol_size);
    PyObject *raw = PyBytes_FromStringAndSize(key, f->symbol_size + 1);
    if (raw == NULL) return NULL;
    PyObject *name = PyDict_GetItemWithError(stream_names, raw);
    if (name != NULL) {
        Py_DECREF(raw);
        Py_INCREF(name);
        return name;
    }
    if (PyErr_Occurred()) {
        Py_DECREF(raw);
        return NULL;
    }
    static const char *types[] = {"trade", "bestBidAsk", "depth20", "depth"};
    PyObject *lower = PyObject_CallMethod(symbol, "lower", NULL);
    name = lower ? PyUnicode_FromFormat("%U@%s", lower, types[f->template - 10000]) : NULL;
    Py_XDECREF(lower);
    if (name != NULL && PyDict_SetItem(stream_names, raw, name) < 0) Py_CLEAR(name);
    Py_DECREF(raw);
    return name;
}

/* Append the events of a parsed frame to out (wrapped when wrap). */
static int
append_events(const Parsed *f, PyObject *out, int wrap)
{
    PyObject *symbol = symbol_of(f);
    if (symbol == NULL) return -1;
    if (check_bools(f)) {
        Py_DECREF(symbol);
        return -1;
    }
    PyObject *name = wrap ? stream_name(f, symbol) : NULL;
    if (wrap && name == NULL) {
        Py_DECREF(symbol);
        return -1;
    }
    const unsigned char *root = f->root;
    Py_ssize_t events = f->template == 10000 ? f->count[0] : 1;
    int bad = 0;
    PyObject *bids = NULL, *asks = NULL;
    if (f->template >= 10002) {
        bids = levels_list(f, 0);
        asks = bids ? levels_list(f, 1) : NULL;
        bad = asks == NULL;
    }
    for (Py_ssize_t i = 0; i < events && !bad; i++) {
        PyObject *d = PyDict_New();
        if (d == NULL) {
            bad = 1;
            break;
        }
        if (f->template == 10000) {
            const unsigned char *p = f->rows[0] + i * f->entry[0];
            bad = PyDict_SetItem(d, k_e, v_trade) || set_new(d, k_E, PyLong_FromLongLong(rd_i64(root)))
                || PyDict_SetItem(d, k_s, symbol) || set_new(d, k_t, PyLong_FromLongLong(rd_i64(p)))
                || set_new(d, k_p, decimal_text(rd_i64(p + 8), f->pe))
                || set_new(d, k_q, decimal_text(rd_i64(p + 16), f->qe))
                || set_new(d, k_T, PyLong_FromLongLong(rd_i64(root + 8)))
                || PyDict_SetItem(d, k_m, p[24] ? Py_True : Py_False)
                || PyDict_SetItem(d, k_M, Py_True);
        }
        else if (f->template == 10001) {
            bad = PyDict_SetItem(d, k_e, v_bestBidAsk)
                || set_new(d, k_E, PyLong_FromLongLong(rd_i64(root))) || PyDict_SetItem(d, k_s, symbol)
                || set_new(d, k_u, PyLong_FromLongLong(rd_i64(root + 8)))
                || set_new(d, k_b, decimal_text(rd_i64(root + 18), f->pe))
                || set_new(d, k_B, decimal_text(rd_i64(root + 26), f->qe))
                || set_new(d, k_a, decimal_text(rd_i64(root + 34), f->pe))
                || set_new(d, k_A, decimal_text(rd_i64(root + 42), f->qe));
        }
        else if (f->template == 10002) {
            bad = PyDict_SetItem(d, k_e, v_depthSnapshot)
                || set_new(d, k_E, PyLong_FromLongLong(rd_i64(root))) || PyDict_SetItem(d, k_s, symbol)
                || set_new(d, k_lastUpdateId, PyLong_FromLongLong(rd_i64(root + 8)))
                || PyDict_SetItem(d, k_bids, bids) || PyDict_SetItem(d, k_asks, asks);
        }
        else {
            bad = PyDict_SetItem(d, k_e, v_depthUpdate)
                || set_new(d, k_E, PyLong_FromLongLong(rd_i64(root))) || PyDict_SetItem(d, k_s, symbol)
                || set_new(d, k_U, PyLong_FromLongLong(rd_i64(root + 8)))
                || set_new(d, k_u, PyLong_FromLongLong(rd_i64(root + 16)))
                || PyDict_SetItem(d, k_b, bids) || PyDict_SetItem(d, k_a, asks);
        }
        PyObject *item = d;
        if (!bad && wrap) {
            item = PyDict_New();
            bad = item == NULL || PyDict_SetItem(item, k_stream, name) || PyDict_SetItem(item, k_data, d);
            Py_DECREF(d);
        }
        if (!bad) bad = PyList_Append(out, item) < 0;
        Py_XDECREF(item);
    }
    Py_XDECREF(bids);
    Py_XDECREF(asks);
    Py_XDECREF(name);
    Py_DECREF(symbol);
    return bad ? -1 : 0;
}

static PyObject *
decode(PyObject *module, PyObject *arg)
{
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    Parsed f;
    PyObject *out = NULL;
    if (parse(&f, view.buf, view.len) == 0) {
        out = PyList_New(0);
        if (out != NULL && append_events(&f, out, 0) < 0) Py_CLEAR(out);
    }
    PyBuffer_Release(&view);
    return out;
}

static PyObject *
decode_batch(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyList_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "decode_batch(frames: list, wrap: bool)");
        return NULL;
    }
    int wrap = PyObject_IsTrue(args[1]);
    if (wrap < 0) return NULL;
    PyObject *frames = args[0];
    PyObject *out = PyList_New(0);
    if (out == NULL) return NULL;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(frames); i++) {
        PyObject *frame = PyList_GET_ITEM(frames, i);
        Parsed f;
        if (!PyBytes_Check(frame)) {
            PyErr_SetString(SbeError, "a text frame among the binary ones");
            Py_DECREF(out);
            return NULL;
        }
        if (parse(&f, (const unsigned char *)PyBytes_AS_STRING(frame), PyBytes_GET_SIZE(frame))
            || append_events(&f, out, wrap)) {
            Py_DECREF(out);
            return NULL;
        }
    }
    return out;
}

/* -- JSON lines ------------------------------------------------------------------------- */

typedef struct {
    char *data;
    Py_ssize_t len, cap;
} Buf;

static int
reserve(Buf *b, Py_ssize_t more)
{
    if (b->len + more <= b->cap) return 0;
    Py_ssize_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more) cap *= 2;
    char *data = PyMem_RawRealloc(b->data, cap); /* no interpreter lock needed */
    if (data == NULL) {
        return -1; /* the caller says it, holding the lock again */
    }
    b->data = data;
    b->cap = cap;
    return 0;
}

#define PUT(b, text) put(b, text, sizeof(text) - 1)

static int
put(Buf *b, const char *text, Py_ssize_t n)
{
    if (reserve(b, n)) return -1;
    memcpy(b->data + b->len, text, n);
    b->len += n;
    return 0;
}

static int
put_int(Buf *b, int64_t value)
{
    char text[24];
    int n = snprintf(text, sizeof text, "%lld", (long long)value);
    return put(b, text, n);
}

static int
put_decimal(Buf *b, int64_t mantissa, int exponent)
{
    if (reserve(b, 162)) return -1;
    b->data[b->len++] = '"';
    b->len += decimal_chars(mantissa, exponent, b->data + b->len);
    b->data[b->len++] = '"';
    return 0;
}

/* A JSON string of UTF-8 text, escaped as orjson escapes. */
static int
put_string(Buf *b, const unsigned char *text, Py_ssize_t n, int lower)
{
    if (reserve(b, n * 6 + 2)) return -1;
    char *o = b->data + b->len;
    *o++ = '"';
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char c = text[i];
        if (lower && c >= 'A' && c <= 'Z') c = (unsigned char)(c + 32);
        if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
        }
        else if (c < 0x20) {
            const char *short_escape = c == '\n' ? "\\n" : c == '\t' ? "\\t" : c == '\r' ? "\\r"
                : c == '\b' ? "\\b" : c == '\f' ? "\\f" : NULL;
            if (short_escape) {
                memcpy(o, short_escape, 2);
                o += 2;
            }
            else {
                o += sprintf(o, "\\u%04x", c);
            }
        }
        else {
            *o++ = (char)c;
        }
    }
    *o++ = '"';
    b->len = o - b->data;
    return 0;
}

static int
put_levels(Buf *b, const Parsed *f, int side)
{
    if (PUT(b, "[")) return -1;
    for (Py_ssize_t i = 0; i < f->count[side]; i++) {
        const unsigned char *p = f->rows[side] + i * f->entry[side];
        if ((i && PUT(b, ",")) || PUT(b, "[") || put_decimal(b, rd_i64(p), f->pe) || PUT(b, ",")
            || put_decimal(b, rd_i64(p + 8), f->qe) || PUT(b, "]")) {
            return -1;
        }
    }
    return PUT(b, "]");
}

static int
put_event(Buf *b, const Parsed *f, Py_ssize_t i)
{
    const unsigned char *root = f->root;
    static const char *names[] = {"trade", "bestBidAsk", "depthSnapshot", "depthUpdate"};
    const char *e = names[f->template - 10000];
    if (PUT(b, "{\"e\":\"") || put(b, e, strlen(e)) || PUT(b, "\",\"E\":") || put_int(b, rd_i64(root))
        || PUT(b, ",\"s\":") || put_string(b, f->symbol, f->symbol_size, 0)) {
        return -1;
    }
    if (f->template == 10000) {
        const unsigned char *p = f->rows[0] + i * f->entry[0];
        return PUT(b, ",\"t\":") || put_int(b, rd_i64(p)) || PUT(b, ",\"p\":")
            || put_decimal(b, rd_i64(p + 8), f->pe) || PUT(b, ",\"q\":")
            || put_decimal(b, rd_i64(p + 16), f->qe) || PUT(b, ",\"T\":")
            || put_int(b, rd_i64(root + 8))
            || (p[24] ? PUT(b, ",\"m\":true,\"M\":true}") : PUT(b, ",\"m\":false,\"M\":true}"));
    }
    if (f->template == 10001) {
        return PUT(b, ",\"u\":") || put_int(b, rd_i64(root + 8)) || PUT(b, ",\"b\":")
            || put_decimal(b, rd_i64(root + 18), f->pe) || PUT(b, ",\"B\":")
            || put_decimal(b, rd_i64(root + 26), f->qe) || PUT(b, ",\"a\":")
            || put_decimal(b, rd_i64(root + 34), f->pe) || PUT(b, ",\"A\":")
            || put_decimal(b, rd_i64(root + 42), f->qe) || PUT(b, "}");
    }
    if (f->template == 10002) {
        return PUT(b, ",\"lastUpdateId\":") || put_int(b, rd_i64(root + 8)) || PUT(b, ",\"bids\":")
            || put_levels(b, f, 0) || PUT(b, ",\"asks\":") || put_levels(b, f, 1) || PUT(b, "}");
    }
    return PUT(b, ",\"U\":") || put_int(b, rd_i64(root + 8)) || PUT(b, ",\"u\":")
        || put_int(b, rd_i64(root + 16)) || PUT(b, ",\"b\":") || put_levels(b, f, 0)
        || PUT(b, ",\"a\":") || put_levels(b, f, 1) || PUT(b, "}");
}

/* Strict UTF-8, as Python's decoder takes it (no overlongs, surrogates or > U+10FFFF). */
static int
utf8_valid(const unsigned char *s, Py_ssize_t n, int *ascii)
{
    *ascii = 1;
    Py_ssize_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        *ascii = 0;
        int len;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) { len = 2; cp = c & 0x1F; }
        else if (c >= 0xE0 && c <= 0xEF) { len = 3; cp = c & 0x0F; }
        else if (c >= 0xF0 && c <= 0xF4) { len = 4; cp = c & 0x07; }
        else return 0;
        if (i + len > n) return 0;
        for (int k = 1; k < len; k++) {
            unsigned char d = s[i + k];
            if ((d & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (d & 0x3F);
        }
        if (len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) return 0;
        if (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) return 0;
        i += len;
    }
    return 1;
}

/* Parse and check every frame of a list as decode would (the same errors, in the same
 * order); *events gets how many events they hold. A PyMem array of Parsed, or NULL. */
static Parsed *
check_all(PyObject *frames, int wrap, Py_ssize_t *events)
{
    Py_ssize_t n = PyList_GET_SIZE(frames);
    Parsed *all = PyMem_Malloc(sizeof(Parsed) * (n ? n : 1));
    if (all == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    *events = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *frame = PyList_GET_ITEM(frames, i);
        Parsed *f = &all[i];
        int ascii;
        if (!PyBytes_Check(frame)) {
            PyErr_SetString(SbeError, "a text frame among the binary ones");
            goto fail;
        }
        if (parse(f, (const unsigned char *)PyBytes_AS_STRING(frame), PyBytes_GET_SIZE(frame))) {
            goto fail;
        }
        if (!utf8_valid(f->symbol, f->symbol_size, &ascii)) {
            PyErr_SetString(SbeError, "SBE symbol is not UTF-8");
            goto fail;
        }
        if (check_bools(f)) goto fail;
        if (wrap && !ascii) { /* lowercasing beyond ASCII: the caller decodes instead */
            PyErr_SetString(SbeError, "a symbol beyond ASCII");
            goto fail;
        }
        *events += f->template == 10000 ? f->count[0] : 1;
    }
    return all;
fail:
    PyMem_Free(all);
    return NULL;
}

/* The JSON lines of checked frames; -1 when out of memory. Runs without the lock. */
static int
write_all_lines(Buf *b, const Parsed *all, Py_ssize_t n, int wrap)
{
    static const char *types[] = {"trade", "bestBidAsk", "depth20", "depth"};
    for (Py_ssize_t i = 0; i < n; i++) {
        const Parsed *f = &all[i];
        Py_ssize_t events = f->template == 10000 ? f->count[0] : 1;
        const char *type = types[f->template - 10000];
        for (Py_ssize_t k = 0; k < events; k++) {
            if (wrap) {
                /* the stream name: the symbol lowercased (ASCII here), "@", the type */
                if (PUT(b, "{\"stream\":") || put_string(b, f->symbol, f->symbol_size, 1)) {
                    return -1;
                }
                b->len -= 1; /* reopen the string for "@type" */
                if (PUT(b, "@") || put(b, type, strlen(type)) || PUT(b, "\",\"data\":")) return -1;
            }
            if (put_event(b, f, k) || (wrap && PUT(b, "}")) || PUT(b, "\n")) return -1;
        }
    }
    return 0;
}

static PyObject *
json_lines(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyList_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "json_lines(frames: list, wrap: bool)");
        return NULL;
    }
    int wrap = PyObject_IsTrue(args[1]);
    if (wrap < 0) return NULL;
    PyObject *frames = args[0];
    Py_ssize_t events;
    Parsed *all = check_all(frames, wrap, &events);
    if (all == NULL) return NULL;
    Py_ssize_t n = PyList_GET_SIZE(frames);
    Py_INCREF(frames); /* the frames' bytes stay alive while the lock is released */
    Buf b = {NULL, 0, 0};
    int failed;
    Py_BEGIN_ALLOW_THREADS
    failed = write_all_lines(&b, all, n, wrap);
    Py_END_ALLOW_THREADS
    Py_DECREF(frames);
    PyMem_Free(all);
    PyObject *out = failed ? PyErr_NoMemory() : PyBytes_FromStringAndSize(b.data ? b.data : "", b.len);
    PyMem_RawFree(b.data);
    return out;
}

static PyObject *
count_events(PyObject *module, PyObject *frames)
{
    if (!PyList_Check(frames)) {
        PyErr_SetString(PyExc_TypeError, "count_events(frames: list)");
        return NULL;
    }
    Py_ssize_t events;
    Parsed *all = check_all(frames, 0, &events);
    if (all == NULL) return NULL;
    PyMem_Free(all);
    return PyLong_FromSsize_t(events);
}

static PyMethodDef methods[] = {
    {"decode", decode, METH_O, "The events of one SBE frame (see binstream.sbe.decode)."},
    {"decode_batch", (PyCFunction)(void (*)(void))decode_batch, METH_FASTCALL,
     "The events of a list of SBE frames, each wrapped as {stream, data} when wrap."},
    {"json_lines", (PyCFunction)(void (*)(void))json_lines, METH_FASTCALL,
     "The events of a list of SBE frames as JSON lines (bytes), wrapped when wrap."},
    {"count_events", count_events, METH_O,
     "How many events a list of SBE frames holds (each frame checked as decode checks it)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "binstream._sbe", "binstream.sbe's decoders in C.", -1, methods,
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
    stream_names = PyDict_New();
    if (stream_names == NULL) return NULL;
    INTERN(k_e, "e"); INTERN(k_E, "E"); INTERN(k_s, "s"); INTERN(k_t, "t"); INTERN(k_p, "p");
    INTERN(k_q, "q"); INTERN(k_T, "T"); INTERN(k_m, "m"); INTERN(k_M, "M"); INTERN(k_u, "u");
    INTERN(k_U, "U"); INTERN(k_b, "b"); INTERN(k_B, "B"); INTERN(k_a, "a"); INTERN(k_A, "A");
    INTERN(k_lastUpdateId, "lastUpdateId"); INTERN(k_bids, "bids"); INTERN(k_asks, "asks");
    INTERN(k_stream, "stream"); INTERN(k_data, "data");
    INTERN(v_trade, "trade"); INTERN(v_bestBidAsk, "bestBidAsk");
    INTERN(v_depthSnapshot, "depthSnapshot"); INTERN(v_depthUpdate, "depthUpdate");
    return PyModule_Create(&module_def);
}
