/* Numbers and user text as text (shiftnas/format.h). */
#include "shiftnas/format.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sn_format_number(char *out, size_t size, double x)
{
    if (x == floor(x) && fabs(x) < 1e15) {
        snprintf(out, size, "%.0f", x);
        return;
    }
    for (int precision = 1; precision <= 17; precision++) {
        snprintf(out, size, "%.*g", precision, x);
        if (strtod(out, NULL) == x)
            return;
    }
}

void sn_format_macs(char *out, size_t size, double macs)
{
    if (macs >= 1e9)
        snprintf(out, size, "%.4gG", macs / 1e9);
    else if (macs >= 1e6)
        snprintf(out, size, "%.4gM", macs / 1e6);
    else if (macs >= 1e3)
        snprintf(out, size, "%.4gk", macs / 1e3);
    else
        snprintf(out, size, "%.0f", macs);
}

/* Bytes in the valid UTF-8 sequence at s (at most `left` bytes there), or 0
 * when it is not one or encodes a C1 control (U+0080..U+009F), which some
 * terminals obey like ESC. */
static size_t utf8_sequence(const unsigned char *s, size_t left)
{
    size_t length;
    unsigned char low = 0x80, high = 0xBF; /* the second byte's range */
    if (s[0] >= 0xC2 && s[0] <= 0xDF) {
        length = 2;
        if (s[0] == 0xC2)
            low = 0xA0;
    } else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        length = 3;
        if (s[0] == 0xE0)
            low = 0xA0;
        else if (s[0] == 0xED)
            high = 0x9F; /* no UTF-16 surrogates */
    } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        length = 4;
        if (s[0] == 0xF0)
            low = 0x90;
        else if (s[0] == 0xF4)
            high = 0x8F;
    } else {
        return 0;
    }
    if (length > left || s[1] < low || s[1] > high)
        return 0;
    for (size_t i = 2; i < length; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return length;
}

const char *sn_format_user_text(char *out, size_t size, const char *text, size_t max_bytes)
{
    if (size == 0)
        return out;
    const unsigned char *s = (const unsigned char *)text;
    size_t length = strlen(text), shown = length < max_bytes ? length : max_bytes, used = 0;
    for (size_t i = 0; i < shown;) {
        size_t sequence = s[i] >= 0x80 ? utf8_sequence(s + i, shown - i) : 1;
        char piece[8];
        size_t n;
        if (s[i] < 0x20 || s[i] == 0x7F || sequence == 0) {
            n = (size_t)snprintf(piece, sizeof piece, "\\x%02x", s[i]);
            sequence = 1;
        } else {
            memcpy(piece, s + i, sequence);
            n = sequence;
        }
        if (used + n >= size)
            break; /* a piece never goes in half: no cut sequence or escape */
        memcpy(out + used, piece, n);
        used += n;
        i += sequence;
    }
    if (shown < length && used + 3 < size) {
        memcpy(out + used, "...", 3);
        used += 3;
    }
    out[used] = '\0';
    return out;
}
