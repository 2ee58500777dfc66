/**
 * Web Push opt-in, asked only after the user taps the button. Push is a bonus: Chrome's push service
 * is often unreachable in mainland China and iOS pushes only to an app added to the home screen, so
 * every failure here ends in a plain note that the inbox still has every message.
 */
import { api } from '../core/session'
import { ApiError, NetworkError } from '../core/errors'

export type PushState = 'unsupported' | 'ios-not-installed' | 'denied' | 'off' | 'on'

export const PUSH_NOTES: Record<Exclude<PushState, 'off' | 'on'>, string> = {
  unsupported: '此浏览器不支持消息推送。新消息仍会显示在本页收件箱中。',
  'ios-not-installed': 'iPhone 需先把本应用“添加到主屏幕”，再从主屏幕打开，才能接收推送。新消息仍会显示在本页收件箱中。',
  denied: '您已拒绝通知权限。如需推送，请在手机设置中允许本应用发送通知。新消息仍会显示在本页收件箱中。',
}

function isIos(): boolean {
  return /iPhone|iPad|iPod/.test(navigator.userAgent) || (navigator.platform === 'MacIntel' && navigator.maxTouchPoints > 1)
}

function standalone(): boolean {
  return window.matchMedia?.('(display-mode: standalone)').matches || (navigator as Navigator & { standalone?: boolean }).standalone === true
}

export async function pushState(): Promise<PushState> {
  if (isIos() && !standalone()) return 'ios-not-installed'
  if (!('serviceWorker' in navigator) || !('PushManager' in window) || !('Notification' in window)) return 'unsupported'
  if (Notification.permission === 'denied') return 'denied'
  try {
    const reg = await navigator.serviceWorker.getRegistration()
    const sub = await reg?.pushManager.getSubscription()
    return sub && Notification.permission === 'granted' ? 'on' : 'off'
  } catch {
    return 'off'
  }
}

function keyBytes(b64url: string): Uint8Array<ArrayBuffer> {
  const pad = '='.repeat((4 - (b64url.length % 4)) % 4)
  const raw = atob((b64url + pad).replace(/-/g, '+').replace(/_/g, '/'))
  const out = new Uint8Array(new ArrayBuffer(raw.length))
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i)
  return out
}

function timeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error('timeout')), ms))])
}

/** Returns a Chinese message saying what happened (success or why not). */
export async function enablePush(): Promise<{ ok: boolean; message: string }> {
  const state = await pushState()
  if (state !== 'off' && state !== 'on') return { ok: false, message: PUSH_NOTES[state] }
  const permission = await Notification.requestPermission()
  if (permission !== 'granted') return { ok: false, message: PUSH_NOTES.denied }
  let key: string
  try {
    key = (await api.get<{ public_key: string }>('/push/key')).public_key
  } catch (e) {
    if (e instanceof NetworkError) return { ok: false, message: '现在没有网络，请联网后再开启推送。' }
    if (e instanceof ApiError && e.status === 404) return { ok: false, message: '服务器暂未开通推送。新消息仍会显示在收件箱中。' }
    return { ok: false, message: '开启推送失败，请稍后重试。新消息仍会显示在收件箱中。' }
  }
  let sub: PushSubscription
  try {
    const reg = await navigator.serviceWorker.ready
    sub = (await reg.pushManager.getSubscription()) ?? (await timeout(reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(key) }), 20_000))
  } catch {
    return { ok: false, message: '无法连接手机的推送服务（国内网络下常见）。新消息仍会显示在收件箱中，打开应用即可看到。' }
  }
  try {
    await api.post('/push/subscriptions', sub.toJSON())
  } catch (e) {
    return { ok: false, message: `服务器未能登记推送：${(e as Error).message}。新消息仍会显示在收件箱中。` }
  }
  return { ok: true, message: '已开启消息推送。没有推送时，消息也会显示在收件箱中。' }
}

/**
 * At start, with signal: a phone that already allowed notifications tells the server its subscription
 * again (the server may have pruned it after a 410, or this is a new sign-in on the same phone).
 * Never asks for permission itself.
 */
export async function refreshPushSubscription(): Promise<void> {
  try {
    if (!('serviceWorker' in navigator) || !('PushManager' in window) || Notification.permission !== 'granted') return
    const reg = await navigator.serviceWorker.ready
    let sub = await reg.pushManager.getSubscription()
    if (!sub) {
      const key = (await api.get<{ public_key: string }>('/push/key')).public_key
      sub = await timeout(reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(key) }), 20_000)
    }
    await api.post('/push/subscriptions', sub.toJSON())
  } catch {
    /* push is a bonus; the inbox has every message */
  }
}
