/** Wires the device wipe to the app's api client, database, sync engine and session. */
import { api, logout, session } from '../core/session'
import { db } from '../core/db'
import { engine, touch } from '../sync/store'
import { DeviceWipe } from './wipe'

const RETRYABLE = ['waiting', 'sending']

export const deviceWipe = new DeviceWipe({
  api,
  db,
  pushOutbox: () => engine.run({ force: true }),
  async unsentCount() {
    const uid = session.user?.id ?? null
    const rows = await db.outbox.where('state').anyOf(RETRYABLE).toArray()
    return rows.filter((r) => uid === null || r.userId === uid).length
  },
  clearStorage() {
    try {
      localStorage.removeItem('fengqiao.lastUsername')
    } catch {
      /* nothing to forget */
    }
  },
  async endSession() {
    await logout()
    await engine.loadStatus()
    touch()
  },
})

let installed = false

/** Called once at start (main.ts / App.vue). */
export function installDeviceWipe(): void {
  if (installed) return
  installed = true
  deviceWipe.install()
}
