// Names people read (a display name, a passkey's name): the PRECIS Nickname profile
// (RFC 8266) of the FreeformClass (RFC 8264), as WebAuthn asks. Such characters could make
// a name blank, make it look like another, or break a line of a log. Invariants:
// - Mapped first: non-ASCII spaces become U+0020, the text/emoji presentation selectors
//   U+FE0E/U+FE0F are dropped (they only pick a glyph style; what remains is still valid),
//   NFKC; then spaces are trimmed at both ends and runs of them collapsed to one.
// - Refused, as the FreeformClass disallows them: controls, format characters (bidi
//   controls, soft hyphen, tag characters, ...), line and paragraph separators, private
//   use, unassigned code points, Default_Ignorable_Code_Point (zero-width space, word
//   joiner, Hangul fillers, other variation selectors) and old Hangul jamo.
// - A zero-width joiner or non-joiner passes only right after a virama: the CONTEXTJ rule
//   Indic and Sinhala spelling needs (ශ්‍රී). Its second clause, ZWNJ between Arabic-script
//   letters by their joining type, needs data JavaScript does not expose: refused. So is an
//   emoji ZWJ sequence (👩‍💻), as in PRECIS: where a platform has no glyph for the sequence,
//   it shows as its parts, exactly like the same emoji without the joiner. Single emoji,
//   skin tones, flags and keycaps pass.
// - At most 4 combining marks in a row (more stack into an unreadable smear), and at least
//   one visible character: a letter, number, punctuation or symbol.

const maxMarksInARow = 4;

const disallowed = /[\p{Cc}\p{Cf}\p{Co}\p{Cs}\p{Cn}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}\u1100-\u11FF\uA960-\uA97F\uD7B0-\uD7FF]/u;
const joiner = /^[\u200C\u200D]$/;
const mark = /^\p{M}$/u;
const visible = /[\p{L}\p{N}\p{P}\p{S}]/u;

// Canonical_Combining_Class 9 (Virama), from the runtime's own Unicode data: canonical
// ordering puts such a mark after one of class 8 (U+3099) and before one of class 10 (U+05B0).
const isVirama = (char: string) =>
  char !== '\u3099' &&
  char !== '\u05B0' &&
  mark.test(char) &&
  `a${char}\u3099`.normalize('NFD') === `a\u3099${char}` &&
  `a\u05B0${char}`.normalize('NFD') === `a${char}\u05B0`;

// Only spaces are trimmed: String.prototype.trim would also drop a BOM or a tab, unseen.
const mapSpaces = (value: string) =>
  value
    .replace(/\p{Zs}/gu, ' ')
    .replace(/ {2,}/g, ' ')
    .replace(/^ | $/g, '');

/** The enforced form of a name, or why it is refused. */
export function prepareNickname(input: string): { name: string } | { problem: string } {
  const name = mapSpaces(
    mapSpaces(input)
      .replace(/[\uFE0E\uFE0F]/g, '')
      .normalize('NFKC'),
  );
  const chars = [...name];
  let marksInARow = 0;
  for (const [i, char] of chars.entries()) {
    if (joiner.test(char) ? !isVirama(chars[i - 1] ?? '') : disallowed.test(char)) {
      const code = `U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
      return { problem: `must not contain invisible, control or formatting characters (${code})` };
    }
    marksInARow = mark.test(char) ? marksInARow + 1 : 0;
    if (marksInARow > maxMarksInARow) return { problem: `must not stack more than ${maxMarksInARow} combining marks` };
  }
  if (name !== '' && !visible.test(name)) return { problem: 'must contain a visible character' };
  return { name };
}
