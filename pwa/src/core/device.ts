/**
 * The phone's device name, sent at login so an admin can tell phones apart (and revoke a lost one).
 * Kept in localStorage so the same phone keeps the same name across logins.
 */
const KEY = 'fengqiao.deviceName'
const LAST_USER_KEY = 'fengqiao.lastUsername'

function randomSuffix(): string {
  const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789' // no 0/O, 1/I: easy to read aloud
  const bytes = new Uint8Array(4)
  crypto.getRandomValues(bytes)
  return Array.from(bytes, (b) => alphabet[b % alphabet.length]).join('')
}

/** 手机 on a phone, 平板 on a tablet, 电脑 on a desktop browser: what an admin sees in the device list. */
export function kindOfDevice(ua: string = globalThis.navigator?.userAgent ?? ''): string {
  if (/iPad|Tablet|Android(?!.*Mobile)/i.test(ua)) return '平板'
  if (/Mobi|iPhone|Android|HarmonyOS|MicroMessenger/i.test(ua)) return '手机'
  return '电脑'
}

function storage(): Storage | null {
  try {
    return globalThis.localStorage ?? null
  } catch {
    return null // private mode or storage disabled
  }
}

export function getDeviceName(): string {
  const s = storage()
  let name = s?.getItem(KEY)?.trim()
  if (!name) {
    name = `${kindOfDevice()}-${randomSuffix()}`
    s?.setItem(KEY, name)
  }
  return name
}

export function setDeviceName(name: string): void {
  const trimmed = name.trim()
  if (trimmed) storage()?.setItem(KEY, trimmed.slice(0, 64))
}

export function getLastUsername(): string {
  return storage()?.getItem(LAST_USER_KEY) ?? ''
}

export function setLastUsername(username: string): void {
  storage()?.setItem(LAST_USER_KEY, username)
}
