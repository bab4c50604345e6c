/**
 * The layer rules of CONTRIBUTING.md ("Layout and the one rule about direction"), checked by
 * dependency-cruiser: `npm run lint`, and scripts/layers.test.ts inside the test suite.
 *
 *   lib ← server/messaging ← server/tap ← server/realtime, server/http ← server/index.ts
 *   lib ← components ← app
 *
 * Test files (*.test.ts, e2e/, test/) may reach across layers to set things up, but production
 * code never imports test code.
 */
const TEST_FILES = '(\\.test\\.tsx?$|\\.spec\\.tsx?$|^test/|^e2e/|/test-support\\.ts$|/fixtures/)';
/** Tests proper: they may use test/ and e2e/ support. Test support beside the code may not. */
const TESTS = '(\\.test\\.tsx?$|\\.spec\\.tsx?$|^test/|^e2e/)';
/** Developer scripts (start, screenshots, measurements) drive the servers and the e2e support. */
const SCRIPTS = '^scripts/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'lib-is-shared',
      comment: 'lib/ is shared by browser and server: nothing from the server, the UI, Node, React, socket.io or amqplib.',
      severity: 'error',
      from: { path: '^lib/', pathNot: TEST_FILES },
      to: {
        pathNot: '^lib/|^node_modules/zod/',
        dependencyTypesNot: ['type-only'],
      },
    },
    {
      name: 'lib-types-only-from-lib',
      comment: 'lib/ takes no types from the server or the UI either: the contracts are defined there.',
      severity: 'error',
      from: { path: '^lib/', pathNot: TEST_FILES },
      to: { path: '^(server|components|app|bin)/' },
    },
    {
      name: 'messaging-is-the-core',
      comment: 'server/messaging/ (the oslo.messaging core) imports only lib/ and itself.',
      severity: 'error',
      from: { path: '^server/messaging/', pathNot: TEST_FILES },
      to: { path: '^(server/(?!messaging/)|components/|app/|bin/)' },
    },
    {
      name: 'messaging-through-its-face',
      comment: 'Outside the core, server/messaging/ is used only through its public face, index.ts.',
      severity: 'error',
      from: { path: '^(server/(?!messaging/)|bin/|components/|app/)', pathNot: TEST_FILES },
      to: { path: '^server/messaging/', pathNot: '^server/messaging/index\\.ts$' },
    },
    {
      name: 'benchmarks-on-the-public-faces',
      comment: 'The benchmarks live beside `osloscope bench` in bin/commands/ and measure the tap through its public face, index.ts (the core through its own, above).',
      severity: 'error',
      from: { path: '^bin/commands/bench', pathNot: TEST_FILES },
      to: { path: '^server/tap/', pathNot: '^server/tap/index\\.ts$' },
    },
    {
      name: 'tap-below-realtime-and-http',
      comment: 'server/tap/ builds on the core and lib/ only: never on realtime, http, auth, demo, config or the composition root.',
      severity: 'error',
      from: { path: '^server/tap/', pathNot: TEST_FILES },
      to: { path: '^(server/(realtime|http|auth|demo)/|server/config\\.ts$|server/index\\.ts$|components/|app/|bin/)' },
    },
    {
      name: 'realtime-and-http-are-siblings',
      comment: 'server/realtime/ and server/http/ both serve browsers; neither imports the other (shared read models live in server/dashboard.ts).',
      severity: 'error',
      from: { path: '^server/(realtime|http)/', pathNot: TEST_FILES },
      to: { path: '^server/(realtime|http)/', pathNot: '^server/$1/' },
    },
    {
      name: 'config-below-the-tap',
      comment: 'server/config.ts reads the environment for everyone; it imports the core and lib/, not the tap or the servers.',
      severity: 'error',
      from: { path: '^server/config\\.ts$' },
      to: { path: '^(server/(tap|realtime|http|demo)/|server/index\\.ts$)' },
    },
    {
      name: 'composition-root-is-a-root',
      comment: 'server/index.ts composes everything; only scripts/start.ts and tests import it.',
      severity: 'error',
      from: { pathNot: `${TESTS}|${SCRIPTS}` },
      to: { path: '^server/index\\.ts$' },
    },
    {
      name: 'ui-never-imports-server',
      comment: 'components/ and app/ never import server/ or bin/: the browser gets data over HTTP and socket.io only.',
      severity: 'error',
      from: { path: '^(components|app)/', pathNot: TEST_FILES },
      to: { path: '^(server|bin)/' },
    },
    {
      name: 'components-below-app',
      comment: 'app/ holds routes only and composes components/; components never import routes.',
      severity: 'error',
      from: { path: '^components/' },
      to: { path: '^app/' },
    },
    {
      name: 'no-test-code-in-production',
      comment: 'Production code never imports tests, test support or fixtures.',
      severity: 'error',
      from: { pathNot: `${TEST_FILES}|${SCRIPTS}` },
      to: { path: TEST_FILES },
    },
    {
      name: 'test-support-stays-in-its-layer',
      comment: 'Test support beside the code (server/**/test-support.ts, fixtures) imports no test/ or e2e/ code: shared helpers live in lib/ (lib/eventually.ts).',
      severity: 'error',
      from: { path: TEST_FILES, pathNot: TESTS },
      to: { path: '^(test|e2e)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|\\.next)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.tsx', '.js', '.mjs', '.cjs', '.d.ts'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
