/// <reference lib="webworker" />
/**
 * Our service worker (vite-plugin-pwa injectManifest). It precaches the built app so it starts
 * offline, serves index.html for SPA routes, keeps a bounded cache of the base map tiles it has seen,
 * and never caches /api: local data lives in IndexedDB.
 */
import { cleanupOutdatedCaches, createHandlerBoundToURL, precacheAndRoute } from 'workbox-precaching'
import { NavigationRoute, registerRoute } from 'workbox-routing'
import { CacheFirst } from 'workbox-strategies'
import { CacheableResponsePlugin } from 'workbox-cacheable-response'
import { ExpirationPlugin } from 'workbox-expiration'
import { clientsClaim } from 'workbox-core'
import { isTileUrl, TILE_CACHE_NAME, TILE_EXPIRATION } from './map/tiles'

declare let self: ServiceWorkerGlobalScope

// The build replaces self.__WB_MANIFEST with the list of files (and revisions) to precache.
precacheAndRoute(self.__WB_MANIFEST)
cleanupOutdatedCaches()

// SPA routes (/, /login, /cases/123, ...) get the precached index.html, also offline, without the
// sign-in form written into it for first loads (index.html's <!--boot--> block): on a phone that has
// the app, the app's own screen comes up at once, and a signed-in user never sees a sign-in form.
const shell = createHandlerBoundToURL('index.html')
const BOOT_BLOCK = /<!--boot-->[\s\S]*?<!--\/boot-->/
// Server paths are left to the network.
registerRoute(
  new NavigationRoute(async (options) => {
    const res = await shell(options)
    const html = (await res.text()).replace(BOOT_BLOCK, '')
    const headers = new Headers(res.headers)
    headers.delete('content-length') // the body is shorter now
    return new Response(html, { status: res.status, statusText: res.statusText, headers })
  }, {
    denylist: [/^\/api(\/|$)/, /^\/schema(\/|$)/, /^\/media(\/|$)/, /\/[^/?]+\.[^/]+$/],
  }),
)

// Base map tiles (Tianditu, OSM) as they are seen, so a map picker works offline where it was used
// before: cache first, at most TILE_EXPIRATION.maxEntries tiles, the least recently used dropped first.
// Nothing is fetched ahead (Tianditu's terms forbid bulk downloads). Only real 200s are kept: the
// map asks with CORS, so no opaque response (which browsers count as megabytes) fills the quota.
registerRoute(
  ({ url }) => isTileUrl(url),
  new CacheFirst({
    cacheName: TILE_CACHE_NAME,
    plugins: [new CacheableResponsePlugin({ statuses: [200] }), new ExpirationPlugin({ ...TILE_EXPIRATION })],
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

// ---- Web Push ------------------------------------------------------------------------------------
// The server's inbox is the truth; push is a best-effort nudge (no FCM in mainland China; iOS only
// for installed apps). Payload (backend notify/): {title, body, url, notification_id}.
// Tests deliver pushes with the DevTools protocol ServiceWorker.deliverPushMessage.

interface PushPayload {
  title?: string
  body?: string
  url?: string
  notification_id?: string | number
}

function parsePush(data: PushMessageData | null): PushPayload {
  if (!data) return {}
  try {
    return data.json() as PushPayload
  } catch {
    return { body: data.text() }
  }
}

self.addEventListener('push', (event) => {
  const p = parsePush(event.data)
  const id = p.notification_id != null ? String(p.notification_id) : undefined
  event.waitUntil(
    (async () => {
      await self.registration.showNotification(p.title || '枫桥网格通', {
        body: p.body || '您有新的消息，请打开查看',
        icon: '/icons/icon-192.png',
        badge: '/icons/favicon-48.png',
        lang: 'zh-CN',
        tag: id ? `n-${id}` : undefined,
        data: { url: p.url || '/inbox', id },
      })
      // An open app refreshes its inbox at once.
      const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true })
      for (const w of windows) w.postMessage({ type: 'PUSH', id })
    })(),
  )
})

self.addEventListener('notificationclick', (event) => {
  event.notification.close()
  const target = new URL(event.notification.data?.url ?? '/inbox', self.location.origin)
  const url = target.origin === self.location.origin ? target.href : self.location.origin + '/inbox'
  event.waitUntil(
    (async () => {
      const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true })
      const open = windows.find((c) => c.url.startsWith(self.location.origin))
      if (open) {
        await open.focus()
        await open.navigate(url).catch(() => open.postMessage({ type: 'NAVIGATE', url }))
        return
      }
      await self.clients.openWindow(url)
    })(),
  )
})

// The push service replaced the subscription: subscribe again with the same key and let an open page
// register it with the server (it holds the token); otherwise the next start of the app does
// (notify/push.ts refreshPushSubscription).
self.addEventListener('pushsubscriptionchange' as keyof ServiceWorkerGlobalScopeEventMap, ((event: ExtendableEvent & { oldSubscription?: PushSubscription | null }) => {
  event.waitUntil(
    (async () => {
      const key = event.oldSubscription?.options.applicationServerKey
      if (!key) return
      const sub = await self.registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key })
      const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true })
      for (const w of windows) w.postMessage({ type: 'PUSH_RESUBSCRIBED', subscription: sub.toJSON() })
    })(),
  )
}) as EventListener)

// ---- Background Sync (an extra: Chrome/Android only) ----------------------------------------------
// The page registers the tag 'fengqiao-outbox' when it saves something. When the browser decides the
// network is back it wakes us; an open (or backgrounded) page then runs the sync engine, which holds
// the tokens and the outbox logic. With no page alive, the next start of the app sends the outbox.
interface SyncEvent extends ExtendableEvent {
  readonly tag: string
}

self.addEventListener('sync' as keyof ServiceWorkerGlobalScopeEventMap, ((event: SyncEvent) => {
  if (event.tag !== 'fengqiao-outbox') return
  event.waitUntil(
    (async () => {
      const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true })
      for (const w of windows) w.postMessage({ type: 'SYNC_NOW' })
    })(),
  )
}) as EventListener)
