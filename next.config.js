// @ts-check
/**
 * BASE_PATH (e.g. /osloscope) serves the pages under a sub-path behind a
 * reverse proxy. Next bakes basePath into the build, so each base path gets
 * its own build directory: .next for the root, .next-osloscope for
 * /osloscope (scripts/build-if-needed.ts builds the one BASE_PATH names).
 */
const basePath = (process.env.BASE_PATH ?? '').trim();
const distDir = basePath ? `.next${basePath.replace(/\//g, '-')}` : '.next';

/**
 * Next.js renders the pages; the custom server (server/index.ts) owns the
 * HTTP API, socket.io and start-up. Type checking runs in `npm run typecheck`
 * (tsc over the whole project), not inside `next build`, to keep start-up
 * builds short.
 *
 * @type {import('next').NextConfig}
 */
const nextConfig = {
  basePath,
  distDir,
  // the browser code's fetches and socket path (components/api-client.ts)
  env: { NEXT_PUBLIC_BASE_PATH: basePath },
  reactStrictMode: true,
  poweredByHeader: false,
  // Next rewrites the tsconfig it is given: give it its own, so the project's
  // tsconfig.json (server, CLI, tests) stays as written.
  typescript: { ignoreBuildErrors: true, tsconfigPath: 'tsconfig.next.json' },
  // Only the browser bundles come from here; nothing under server/ is bundled.
  outputFileTracingExcludes: { '*': ['server/**', 'test/**', 'e2e/**'] },
  async headers() {
    return [
      {
        source: '/:path*',
        headers: [
          { key: 'X-Frame-Options', value: 'DENY' },
          { key: 'X-Content-Type-Options', value: 'nosniff' },
          { key: 'Referrer-Policy', value: 'same-origin' },
        ],
      },
    ];
  },
};

export default nextConfig;
