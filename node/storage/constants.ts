/** Defaults of the storage layer (data path and fragment store). */

/** Version of the fragment format: raw shards of a striped Reed-Solomon code over file format v1. */
export const FRAGMENT_FORMAT_VERSION = 1
/** Stripes in flight while encoding/decoding: bounds memory to a few stripes per file. */
export const STRIPES_IN_FLIGHT = 3
/** File names inside an encode output directory. */
export const FRAGMENT_SUFFIX = '.frag'
export const TREE_SUFFIX = '.tree'
