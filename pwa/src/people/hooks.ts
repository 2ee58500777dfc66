/**
 * The people domain's hooks into the router and the api client: the one-time-password screen comes
 * before anything else, and the device-wipe watcher runs for the whole app.
 */
import type { Router } from 'vue-router'
import { api, session } from '../core/session'
import { mustChangePassword, requirePasswordChange, AUTH_PASSWORD_CHANGE_REQUIRED } from './password'
import { installDeviceWipe } from './wipeSetup'
import { loadCounty } from './county'

export const PASSWORD_ROUTE = 'password'

export function installPeopleHooks(router: Router): void {
  router.beforeEach((to) => {
    if (to.name !== PASSWORD_ROUTE && to.name !== 'login' && mustChangePassword(session.user?.username)) {
      return { name: PASSWORD_ROUTE }
    }
    return true
  })

  // A reload that lost the flag, or an account reset while signed in: the server says so on a 403.
  api.observe((res) => {
    if (res.status !== 403) return
    void res
      .clone()
      .json()
      .then((body: unknown) => {
        const code = (body as { code?: unknown } | null)?.code
        const username = session.user?.username
        if (code === AUTH_PASSWORD_CHANGE_REQUIRED && username) {
          requirePasswordChange(username)
          if (router.currentRoute.value.name !== PASSWORD_ROUTE) void router.replace({ name: PASSWORD_ROUTE })
        }
      })
      .catch(() => {})
  })

  installDeviceWipe()
  void loadCounty(api)
}
