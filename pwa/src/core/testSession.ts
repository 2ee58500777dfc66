/** Tests only: a signed-in session in IndexedDB (fake-indexeddb), restored as the app would at start. */
import { db } from './db'
import { restoreSession } from './session'
import type { User } from '../people/types'

export async function signInForTest(user: Omit<User, 'role'> & { role: string }): Promise<void> {
  await db.session.put({
    key: 'current',
    accessToken: 'a',
    accessExpiresAt: Date.now() + 600_000,
    accessRefreshAt: Date.now() + 500_000,
    refreshToken: 'r',
    refreshExpiresAt: Date.now() + 86_400_000,
    user,
    deviceName: 'test',
    userCheckedAt: null,
    savedAt: Date.now(),
  } as never)
  await restoreSession()
}
