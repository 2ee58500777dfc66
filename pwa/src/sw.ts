/// <reference lib="webworker" />
/**
 * Our service worker (vite-plugin-pwa injectManifest). It precaches the built app so it starts
 * offline, serves index.html for SPA routes, and never caches /api: local data lives in IndexedDB.
 */
import { cleanupOutdatedCaches, createHandlerBoundToURL, precacheAndRoute } from 'workbox-precaching'
import { NavigationRoute, registerRoute } from 'workbox-routing'
import { clientsClaim } from 'workbox-core'

declare let self: ServiceWorkerGlobalScope

// The build replaces self.__WB_MANIFEST with the list of files (and revisions) to precache.
precacheAndRoute(self.__WB_MANIFEST)
cleanupOutdatedCaches()

// SPA routes (/, /login, /cases/123, ...) get the precached index.html, also offline.
// Server paths are left to the network.
registerRoute(
  new NavigationRoute(createHandlerBoundToURL('index.html'), {
    denylist: [/^\/api(\/|$)/, /^\/schema(\/|$)/, /^\/media(\/|$)/, /\/[^/?]+\.[^/]+$/],
  }),
)

// Updates: a new worker installs and then waits. The page asks the user and then posts
// {type: 'SKIP_WAITING'} (workbox-window's messageSkipWaiting, see core/pwa.ts), so an update
// never swaps code under a half-filled form.
self.addEventListener('message', (event) => {
  if (event.data && event.data.type === 'SKIP_WAITING') void self.skipWaiting()
})

// Once active, take control of open pages at once. On first install there is no older worker, so
// this only makes the very first visit controlled (and offline-ready) without a reload.
clientsClaim()

// ---- Web Push (placeholder: comes with the notify domain) --------------------------------------
// The server's inbox is the truth; push is a best-effort nudge (no FCM in mainland China; iOS only
// for installed apps). Tests deliver pushes with the DevTools protocol ServiceWorker.deliverPushMessage.
//
// self.addEventListener('push', (event) => {
//   // Payload (JSON, from backend notify/): {id, title, body, url, tag}
//   const data = event.data?.json() ?? {}
//   event.waitUntil(
//     self.registration.showNotification(data.title ?? '枫桥网格通', {
//       body: data.body ?? '您有新的消息',
//       icon: '/icons/icon-192.png',
//       badge: '/icons/favicon-48.png',
//       tag: data.tag ?? data.id,
//       data: { url: data.url ?? '/', id: data.id },
//     }),
//   )
// })
//
// self.addEventListener('notificationclick', (event) => {
//   event.notification.close()
//   const url = new URL(event.notification.data?.url ?? '/', self.location.origin).href
//   event.waitUntil(
//     (async () => {
//       const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true })
//       const open = windows.find((c) => c.url.startsWith(self.location.origin))
//       if (open) { await open.focus(); return void open.navigate(url) }
//       await self.clients.openWindow(url)
//     })(),
//   )
// })
//
// self.addEventListener('pushsubscriptionchange', (event) => {
//   // Re-subscribe with GET /api/push/key and POST /api/push/subscriptions (needs the access token:
//   // read the session row from IndexedDB, or tell an open page to do it).
// })
