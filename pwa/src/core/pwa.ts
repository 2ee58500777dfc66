/**
 * Service worker registration. A new version waits until the user taps 更新 (registerType
 * "prompt"): reloading on its own could lose a half-filled form in the field.
 */
import { reactive, readonly } from 'vue'
import { registerSW } from 'virtual:pwa-register'

const state = reactive({ needRefresh: false, offlineReady: false })
export const pwa = readonly(state)

let updateSW: ((reload?: boolean) => Promise<void>) | null = null

export function registerServiceWorker(): void {
  if (!('serviceWorker' in navigator)) return
  updateSW = registerSW({
    immediate: true,
    onNeedRefresh() {
      state.needRefresh = true
    },
    onOfflineReady() {
      state.offlineReady = true
    },
    onRegisteredSW(_url, registration) {
      if (!registration) return
      // Phones keep the app open for days: look for a new version whenever it comes to the front.
      document.addEventListener('visibilitychange', () => {
        if (document.visibilityState === 'visible' && navigator.onLine) void registration.update().catch(() => {})
      })
    },
  })
}

/** Activates the waiting service worker (it calls skipWaiting) and reloads the page. */
export async function applyUpdate(): Promise<void> {
  state.needRefresh = false
  await updateSW?.(true)
}

export function dismissUpdate(): void {
  state.needRefresh = false
}
