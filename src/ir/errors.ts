/**
 * User-facing errors. Every error twnn raises on bad input is a `TwnnError`:
 * the CLI prints its message on one line and exits 2, without a stack trace.
 */
export class TwnnError extends Error {
  override name = 'TwnnError';
}

/** A shape or dtype mismatch found while a graph is built. */
export class ShapeError extends TwnnError {
  override name = 'ShapeError';
}

/** A malformed model spec (graph definition, region, layer arguments). */
export class SpecError extends TwnnError {
  override name = 'SpecError';
}

/** A file that cannot be read as what it claims to be (corrupt, truncated, foreign). */
export class FormatError extends TwnnError {
  override name = 'FormatError';
}
