// require('striate') from CommonJS: works on Node 20.19+ (require(esm)), or
// fails with Striate's message saying to use import.
try {
  const striate = require('striate');
  if (typeof striate.conv2d !== 'function') throw new Error('require(striate) has no conv2d');
  console.log(`cjs.cjs: require('striate') gives ${Object.keys(striate).length} exports`);
} catch (error) {
  if (!/striate is an ES module/.test(String(error.message))) throw error;
  console.log(`cjs.cjs: a clear refusal: ${error.message}`);
}
