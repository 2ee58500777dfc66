import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'
import Components from 'unplugin-vue-components/vite'
import { VantResolver } from '@vant/auto-import-resolver'
import { VitePWA } from 'vite-plugin-pwa'
import { gzipSync } from 'node:zlib'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Plugin } from 'vite'

/**
 * Writes a .gz beside each JS/CSS file once it is on disk (after every other plugin has had its say
 * on the code); the server sends it to browsers that accept gzip.
 */
function precompress(): Plugin {
  return {
    name: 'fengqiao-precompress',
    apply: 'build',
    enforce: 'post',
    writeBundle(options, bundle) {
      for (const fileName of Object.keys(bundle)) {
        if (!/\.(js|css)$/.test(fileName)) continue
        const file = join(options.dir ?? 'dist', fileName)
        const source = readFileSync(file)
        if (source.length >= 1024) writeFileSync(`${file}.gz`, gzipSync(source, { level: 9 }))
      }
    },
  }
}

/**
 * Vant's icon font is inlined (woff2, a data: URL) with a fallback on at.alicdn.com: the fallback is
 * never needed, would leak each visit to a third party, and the server's Content-Security-Policy
 * (font-src 'self' data:) blocks it. Dropped from the built CSS.
 */
function noRemoteFonts(): Plugin {
  return {
    name: 'fengqiao-no-remote-fonts',
    enforce: 'pre', // on the source, so the asset's hashed name reflects the change
    transform(code, id) {
      if (!/\.css($|\?)/.test(id) || !code.includes('at.alicdn.com')) return null
      return { code: code.replace(/,\s*url\(["']?(https?:)?\/\/at\.alicdn\.com\/[^)]*\)\s*format\(["']woff["']\)/g, ''), map: null }
    },
  }
}

// Brand colour: deep red (#B71C1C, 6.6:1 against white) reads well in direct sunlight.
const THEME = '#B71C1C'

// The FastAPI/Litestar backend during development; the built app is served same-origin by it.
const API_TARGET = process.env.FENGQIAO_API ?? 'http://127.0.0.1:8000'
const proxy = { '/api': { target: API_TARGET, changeOrigin: false } }

export default defineConfig({
  plugins: [
    vue(),
    precompress(),
    noRemoteFonts(),
    // Vant components are imported on demand (with their own CSS) as they appear in templates.
    Components({ resolvers: [VantResolver()], dts: 'src/components.d.ts' }),
    VitePWA({
      strategies: 'injectManifest',
      srcDir: 'src',
      filename: 'sw.ts', // emitted as dist/sw.js
      registerType: 'prompt', // the app asks before activating a new version (see core/pwa.ts)
      injectRegister: false, // registered from core/pwa.ts via virtual:pwa-register
      manifestFilename: 'manifest.webmanifest',
      includeAssets: ['icons/favicon-48.png', 'icons/apple-touch-icon-180.png'],
      manifest: {
        id: '/',
        name: '枫桥网格通',
        short_name: '枫桥网格通',
        description: '昌宁县网格化矛盾纠纷调解：登记、调解、回访',
        lang: 'zh-CN',
        dir: 'ltr',
        start_url: '/',
        scope: '/',
        display: 'standalone',
        orientation: 'portrait',
        theme_color: THEME,
        background_color: '#FFFFFF',
        categories: ['productivity', 'government'],
        icons: [
          { src: '/icons/icon-192.png', sizes: '192x192', type: 'image/png', purpose: 'any' },
          { src: '/icons/icon-512.png', sizes: '512x512', type: 'image/png', purpose: 'any' },
          { src: '/icons/maskable-512.png', sizes: '512x512', type: 'image/png', purpose: 'maskable' },
        ],
      },
      injectManifest: {
        // Icons and the manifest are added by the plugin (includeAssets + manifest.icons).
        globPatterns: ['**/*.{js,css,html,svg,woff2}'],
        // The supervisors' screens (map, dashboard, reports: ECharts and supercluster, ~210 KB gzipped)
        // need the server anyway; a mediator's phone on 2G should not download them in the background.
        globIgnores: ['**/{MapView,DashboardView,ReportsView,SupervisorNav,supervisor,charts}-*.{js,css}'],
        // The capture path must stay small; fail the build if one precached file grows past 1 MB.
        maximumFileSizeToCacheInBytes: 1024 * 1024,
      },
      devOptions: { enabled: false, type: 'module' },
    }),
  ],
  build: {
    outDir: 'dist',
    target: 'es2020',
    sourcemap: false,
    reportCompressedSize: true,
    // dist/.vite/manifest.json: which chunks each route needs (bench/pwa_budget.py sums them).
    manifest: true,
    // The largest chunk is ECharts (core + line + bar, ~540 KB raw, ~180 KB gzipped); it loads only
    // with the dashboard's charts (src/reports/charts.ts), never on the capture path.
    chunkSizeWarningLimit: 600,
  },
  server: { host: '127.0.0.1', port: 5173, proxy },
  preview: { host: '127.0.0.1', port: 4173, proxy },
})
