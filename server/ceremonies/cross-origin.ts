// Where a ceremony may run framed: the one rule both ceremonies apply to clientDataJSON's
// crossOrigin and topOrigin (simplewebauthn checks neither at registration, and at sign-in
// lets a cross-origin response without a topOrigin pass). Invariants:
// - A cross-origin response (a ceremony inside another site's frame) is refused unless
//   the operator named the pages that may frame it (config.topOrigins, TOP_ORIGINS).
// - A topOrigin, when sent, must be one of those pages, and only in a cross-origin
//   response. Safari sends none: with TOP_ORIGINS set, a cross-origin response without
//   one passes, as the framing page cannot be told.
// - Fields are read as simplewebauthn reads them (truthy or not), so an empty topOrigin
//   is none and crossOrigin "false" (a string) is cross-origin.

export interface FramingFields {
  crossOrigin?: unknown;
  topOrigin?: unknown;
}

/** Throws an Error saying why when the response's framing is not allowed. */
export function checkCrossOrigin({ crossOrigin, topOrigin }: FramingFields, topOrigins: readonly string[]): void {
  if (crossOrigin && topOrigins.length === 0) throw new Error('Unexpected cross-origin response: no top origins are configured');
  if (!topOrigin) return;
  if (!crossOrigin) throw new Error('Unexpected topOrigin in a same-origin response');
  if (!topOrigins.includes(topOrigin as string)) throw new Error(`Unexpected cross-origin response from top origin "${String(topOrigin)}"`);
}
