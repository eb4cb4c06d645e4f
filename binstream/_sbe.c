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
/* Each event's dict, keys in Binance's order and the constant values set, to be copied:
 * a copy is made at its final size, where a dict filled key by key grows on the way. */
static PyObject *shapes[4], *wrapped_shape;

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

/* need() for a group: its header ("the bids group's header") or its ``count`` entries
 * ("3 bids"); the words are put together only for the error. */
static int
need_group(const Parsed *f, Py_ssize_t end, Py_ssize_t count, const char *what)
{
    if (end <= f->size) return 0;
    char label[64];
    if (count < 0) PyOS_snprintf(label, sizeof label, "the %s group's header", what);
    else PyOS_snprintf(label, sizeof label, "%zd %s", count, what);
    return need(f, end, label);
}

static int
parse_levels(Parsed *f, Py_ssize_t *at, int side, const char *what)
{
    if (need_group(f, *at + 4, -1, what)) return -1;
    Py_ssize_t block = rd_u16(f->buf + *at), count = rd_u16(f->buf + *at + 2);
    if (block < 16) {
        PyErr_Format(SbeError, "SBE %s entries are %zd bytes, fewer than the schema's 16",
                     what, block);
        return -1;
    }
    *at += 4;
    if (need_group(f, *at + block * count, count, what)) return -1;
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
        if (need_group(f, at + entry * count, count, "trades")) return -1;
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

/*
 * Symbols seen recently, with their stream names ("bnbbtc@trade") once asked for, in a
 * small direct-mapped table so that a frame's symbol costs no new str. Symbols longer than
 * a slot holds are made afresh each time.
 */
#define SYMBOL_SLOTS 64
#define SYMBOL_CHARS 32
typedef struct {
    Py_ssize_t size;
    unsigned char chars[SYMBOL_CHARS];
    PyObject *symbol;
    PyObject *names[4];
} SymbolSlot;
static SymbolSlot symbols[SYMBOL_SLOTS];

static SymbolSlot *
symbol_slot(const Parsed *f)
{
    if (f->symbol_size > SYMBOL_CHARS) return NULL;
    uint32_t hash = 2166136261u;
    for (Py_ssize_t i = 0; i < f->symbol_size; i++) hash = (hash ^ f->symbol[i]) * 16777619u;
    return &symbols[hash % SYMBOL_SLOTS];
}

/* The symbol as a str (the same error as sbe._symbol), checked after the rows as there. */
static PyObject *
symbol_of(const Parsed *f)
{
    SymbolSlot *slot = symbol_slot(f);
    if (slot != NULL && slot->symbol != NULL && slot->size == f->symbol_size
        && memcmp(slot->chars, f->symbol, f->symbol_size) == 0) {
        Py_INCREF(slot->symbol);
        return slot->symbol;
    }
    PyObject *s = PyUnicode_DecodeUTF8((const char *)f->symbol, f->symbol_size, "strict");
    if (s == NULL) {
        PyErr_Clear();
        PyErr_SetString(SbeError, "SBE symbol is not UTF-8");
        return NULL;
    }
    if (slot != NULL) {
        Py_INCREF(s);
        Py_XSETREF(slot->symbol, s);
        for (int i = 0; i < 4; i++) Py_CLEAR(slot->names[i]);
        slot->size = f->symbol_size;
        memcpy(slot->chars, f->symbol, f->symbol_size);
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

static const char digit_pairs[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/* The decimal digits of v, written backwards so that they end just before end; returns
 * how many (two at a time: a division by 100 instead of two by 10). */
static int
digits_before(uint64_t v, char *end)
{
    char *p = end;
    while (v >= 100) {
        unsigned pair = (unsigned)(v % 100);
        v /= 100;
        p -= 2;
        memcpy(p, digit_pairs + 2 * pair, 2);
    }
    if (v >= 10) {
        p -= 2;
        memcpy(p, digit_pairs + 2 * v, 2);
    }
    else {
        *--p = (char)('0' + v);
    }
    return (int)(end - p);
}

static uint64_t
magnitude_of(int64_t v)
{
    return v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
}

/* Writes mantissa * 10**exponent into out (at least 160 bytes); returns its length. */
static Py_ssize_t
decimal_chars(int64_t mantissa, int exponent, char *out)
{
    if (exponent >= 0 && mantissa == 0) {
        out[0] = '0';
        return 1;
    }
    char buf[24];
    int n = digits_before(magnitude_of(mantissa), buf + sizeof buf);
    const char *digits = buf + sizeof buf - n;
    Py_ssize_t len = 0;
    if (mantissa < 0) out[len++] = '-';
    if (exponent >= 0) {
        memcpy(out + len, digits, n);
        len += n;
        memset(out + len, '0', exponent);
        return len + exponent;
    }
    int scale = -exponent;
    if (n > scale) { /* 123.45 */
        memcpy(out + len, digits, n - scale);
        len += n - scale;
        out[len++] = '.';
        memcpy(out + len, digits + n - scale, scale);
        return len + scale;
    }
    out[len++] = '0'; /* 0.0012345 */
    out[len++] = '.';
    memset(out + len, '0', scale - n);
    len += scale - n;
    memcpy(out + len, digits, n);
    return len + n;
}

/*
 * The strings of recent decimals, kept in a direct-mapped table: a book's prices are ticks
 * near the mid, and removals all carry a zero quantity, so most decimals of a depth stream
 * were seen moments before. A hit hands out the same (immutable) str again; a miss makes
 * the text and takes the slot. The table holds at most DECIMAL_SLOTS strings.
 */
#define DECIMAL_BITS 12
#define DECIMAL_SLOTS (1 << DECIMAL_BITS)
typedef struct {
    int64_t mantissa;
    int exponent;
    PyObject *text;
} DecimalSlot;
static DecimalSlot decimals[DECIMAL_SLOTS];

static PyObject *
decimal_text(int64_t mantissa, int exponent)
{
    uint64_t key = (uint64_t)mantissa ^ ((uint64_t)(uint8_t)exponent << 56);
    DecimalSlot *slot = &decimals[(key * UINT64_C(0x9E3779B97F4A7C15)) >> (64 - DECIMAL_BITS)];
    if (slot->text != NULL && slot->mantissa == mantissa && slot->exponent == exponent) {
        Py_INCREF(slot->text);
        return slot->text;
    }
    char out[160];
    Py_ssize_t len = decimal_chars(mantissa, exponent, out);
    PyObject *text = PyUnicode_New(len, 127); /* ASCII: no UTF-8 decoding to do */
    if (text == NULL) return NULL;
    memcpy(PyUnicode_1BYTE_DATA(text), out, len);
    Py_INCREF(text);
    Py_XSETREF(slot->text, text);
    slot->mantissa = mantissa;
    slot->exponent = exponent;
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

/* The stream name of a frame ("bnbbtc@trade"), kept with its symbol in the symbol table. */
static PyObject *
stream_name(const Parsed *f, PyObject *symbol)
{
    static const char *types[] = {"trade", "bestBidAsk", "depth20", "depth"};
    int type = f->template - 10000;
    SymbolSlot *slot = symbol_slot(f);
    int cached = slot != NULL && slot->symbol == symbol;
    if (cached && slot->names[type] != NULL) {
        Py_INCREF(slot->names[type]);
        return slot->names[type];
    }
    PyObject *lower = PyObject_CallMethod(symbol, "lower", NULL);
    PyObject *name = lower ? PyUnicode_FromFormat("%U@%s", lower, types[type]) : NULL;
    Py_XDECREF(lower);
    if (name != NULL && cached) {
        Py_INCREF(name);
        Py_XSETREF(slot->names[type], name);
    }
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
        PyObject *d = PyDict_Copy(shapes[f->template - 10000]);
        if (d == NULL) {
            bad = 1;
            break;
        }
        if (f->template == 10000) {
            const unsigned char *p = f->rows[0] + i * f->entry[0];
            bad = set_new(d, k_E, PyLong_FromLongLong(rd_i64(root)))
                || PyDict_SetItem(d, k_s, symbol) || set_new(d, k_t, PyLong_FromLongLong(rd_i64(p)))
                || set_new(d, k_p, decimal_text(rd_i64(p + 8), f->pe))
                || set_new(d, k_q, decimal_text(rd_i64(p + 16), f->qe))
                || set_new(d, k_T, PyLong_FromLongLong(rd_i64(root + 8)))
                || PyDict_SetItem(d, k_m, p[24] ? Py_True : Py_False);
        }
        else if (f->template == 10001) {
            bad = set_new(d, k_E, PyLong_FromLongLong(rd_i64(root))) || PyDict_SetItem(d, k_s, symbol)
                || set_new(d, k_u, PyLong_FromLongLong(rd_i64(root + 8)))
                || set_new(d, k_b, decimal_text(rd_i64(root + 18), f->pe))
                || set_new(d, k_B, decimal_text(rd_i64(root + 26), f->qe))
                || set_new(d, k_a, decimal_text(rd_i64(root + 34), f->pe))
                || set_new(d, k_A, decimal_text(rd_i64(root + 42), f->qe));
        }
        else if (f->template == 10002) {
            bad = set_new(d, k_E, PyLong_FromLongLong(rd_i64(root))) || PyDict_SetItem(d, k_s, symbol)
                || set_new(d, k_lastUpdateId, PyLong_FromLongLong(rd_i64(root + 8)))
                || PyDict_SetItem(d, k_bids, bids) || PyDict_SetItem(d, k_asks, asks);
        }
        else {
            bad = set_new(d, k_E, PyLong_FromLongLong(rd_i64(root))) || PyDict_SetItem(d, k_s, symbol)
                || set_new(d, k_U, PyLong_FromLongLong(rd_i64(root + 8)))
                || set_new(d, k_u, PyLong_FromLongLong(rd_i64(root + 16)))
                || PyDict_SetItem(d, k_b, bids) || PyDict_SetItem(d, k_a, asks);
        }
        PyObject *item = d;
        if (!bad && wrap) {
            item = PyDict_Copy(wrapped_shape);
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

/* A list item parsed as a frame: bytes of the schema, or -1 with an SbeError. */
static int
parse_item(PyObject *frame, Parsed *f)
{
    if (!PyBytes_Check(frame)) {
        PyErr_SetString(SbeError, "a text frame among the binary ones");
        return -1;
    }
    return parse(f, (const unsigned char *)PyBytes_AS_STRING(frame), PyBytes_GET_SIZE(frame));
}

/* A book frame (depth20 or diff depth: one event, some forty containers once decoded)
 * checked as decoding would check it. */
static int
check_book(const Parsed *f)
{
    PyObject *symbol = symbol_of(f);
    Py_XDECREF(symbol);
    return symbol == NULL ? -1 : 0;
}

static PyObject *
decode_batch(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 2 || nargs > 3 || !PyList_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError,
                        "decode_batch(frames: list, wrap: bool, defer_books: bool = False)");
        return NULL;
    }
    int wrap = PyObject_IsTrue(args[1]);
    int defer = nargs == 3 ? PyObject_IsTrue(args[2]) : 0;
    if (wrap < 0 || defer < 0) return NULL;
    PyObject *frames = args[0];
    PyObject *out = PyList_New(0);
    if (out == NULL) return NULL;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(frames); i++) {
        PyObject *frame = PyList_GET_ITEM(frames, i);
        Parsed f;
        if (parse_item(frame, &f)
            || (defer && f.template >= 10002
                    ? check_book(&f) || PyList_Append(out, frame)
                    : append_events(&f, out, wrap))) {
            Py_DECREF(out);
            return NULL;
        }
    }
    return out;
}

static PyObject *
streams_of(PyObject *module, PyObject *frames)
{
    if (!PyList_Check(frames)) {
        PyErr_SetString(PyExc_TypeError, "streams_of(frames: list)");
        return NULL;
    }
    PyObject *out = PySet_New(NULL);
    if (out == NULL) return NULL;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(frames); i++) {
        Parsed f;
        if (parse_item(PyList_GET_ITEM(frames, i), &f)) {
            Py_DECREF(out);
            return NULL;
        }
        PyObject *symbol = symbol_of(&f);
        if (symbol != NULL && (check_bools(&f) || (f.template == 10000 && f.count[0] == 0))) {
            Py_CLEAR(symbol);
            if (!PyErr_Occurred()) continue; /* no trades: no event, no stream */
        }
        PyObject *name = symbol ? stream_name(&f, symbol) : NULL;
        Py_XDECREF(symbol);
        if (name == NULL || PySet_Add(out, name) < 0) {
            Py_XDECREF(name);
            Py_DECREF(out);
            return NULL;
        }
        Py_DECREF(name);
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
    int n = digits_before(magnitude_of(value), text + sizeof text);
    if (value < 0) text[sizeof text - ++n] = '-';
    return put(b, text + sizeof text - n, n);
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
        Parsed *f = &all[i];
        int ascii;
        if (parse_item(PyList_GET_ITEM(frames, i), f)) goto fail;
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
     "The events of a list of SBE frames, each wrapped as {stream, data} when wrap; with "
     "defer_books, book frames (depth20, diff depth) are checked and kept as they are."},
    {"streams_of", streams_of, METH_O, "The set of streams whose events a list of SBE frames carries."},
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
    INTERN(k_e, "e"); INTERN(k_E, "E"); INTERN(k_s, "s"); INTERN(k_t, "t"); INTERN(k_p, "p");
    INTERN(k_q, "q"); INTERN(k_T, "T"); INTERN(k_m, "m"); INTERN(k_M, "M"); INTERN(k_u, "u");
    INTERN(k_U, "U"); INTERN(k_b, "b"); INTERN(k_B, "B"); INTERN(k_a, "a"); INTERN(k_A, "A");
    INTERN(k_lastUpdateId, "lastUpdateId"); INTERN(k_bids, "bids"); INTERN(k_asks, "asks");
    INTERN(k_stream, "stream"); INTERN(k_data, "data");
    INTERN(v_trade, "trade"); INTERN(v_bestBidAsk, "bestBidAsk");
    INTERN(v_depthSnapshot, "depthSnapshot"); INTERN(v_depthUpdate, "depthUpdate");
    PyObject *keys[4][9] = {
        {k_e, k_E, k_s, k_t, k_p, k_q, k_T, k_m, k_M},
        {k_e, k_E, k_s, k_u, k_b, k_B, k_a, k_A},
        {k_e, k_E, k_s, k_lastUpdateId, k_bids, k_asks},
        {k_e, k_E, k_s, k_U, k_u, k_b, k_a},
    };
    PyObject *types[4] = {v_trade, v_bestBidAsk, v_depthSnapshot, v_depthUpdate};
    for (int t = 0; t < 4; t++) {
        if ((shapes[t] = PyDict_New()) == NULL) return NULL;
        for (int i = 0; i < 9 && keys[t][i] != NULL; i++) {
            PyObject *value = i == 0 ? types[t] : keys[t][i] == k_M ? Py_True : Py_None;
            if (PyDict_SetItem(shapes[t], keys[t][i], value) < 0) return NULL;
        }
    }
    wrapped_shape = PyDict_New();
    if (wrapped_shape == NULL || PyDict_SetItem(wrapped_shape, k_stream, Py_None) < 0
        || PyDict_SetItem(wrapped_shape, k_data, Py_None) < 0)
        return NULL;
    return PyModule_Create(&module_def);
}
