// Loads the compiled addon; throws if it was not built (callers fall back to pure JS).
'use strict'
module.exports = require('./build/Release/bitdust_native.node')
