/**
 * `require('striate')`: Striate is an ES module. Node 20.19 and later load it
 * through require() (Node's require(esm)); older versions cannot, and get this
 * message instead of ERR_REQUIRE_ESM.
 */
'use strict';
try {
  module.exports = require('./index.js');
} catch (error) {
  if (error && (error.code === 'ERR_REQUIRE_ESM' || error.code === 'ERR_REQUIRE_ASYNC_MODULE')) {
    throw new Error(
      `striate is an ES module, and this Node (${process.version}) cannot require() ES modules: ` +
        "use `import { … } from 'striate'` or `await import('striate')`, or Node 20.19 or later",
      { cause: error },
    );
  }
  throw error;
}
