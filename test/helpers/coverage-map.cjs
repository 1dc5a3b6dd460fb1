// Which source files each test file's coverage is counted for (package.json, "tap" > "coverage-map"): all of
// them, except for the simulation's seed shards, which run the code sim.test.ts and scenarios.test.ts already
// cover, over and over; counting their coverage would cost about a quarter of their time.
module.exports = (testFile) => (/^test\/sim\/seeds-\d+\.test\.ts$/.test(testFile) ? null : []);
