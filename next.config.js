// @ts-check
/**
 * Next.js renders the pages; the custom server (server/index.ts) owns the
 * HTTP API, socket.io and start-up. Type checking runs in `npm run typecheck`
 * (tsc over the whole project), not inside `next build`, to keep start-up
 * builds short.
 *
 * @type {import('next').NextConfig}
 */
const nextConfig = {
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
