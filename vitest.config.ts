import { defineConfig } from 'vitest/config';

// Node-side tests. The Workers-side tests (issue: edge) will join as a second project run by
// @cloudflare/vitest-pool-workers inside workerd; that pool needs vitest ^4.1, pinned here.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // onnxruntime-node is a native addon: separate processes keep each file's sessions apart.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    globalSetup: ['test/helpers/global-setup.ts'],
  },
});
