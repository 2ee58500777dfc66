import { createRouter, createWebHistory } from 'vue-router'
import { onSignedOut, restoreSession, session } from './core/session'

declare module 'vue-router' {
  interface RouteMeta {
    /** Needs a signed-in user. */
    auth?: boolean
    /** Only for signed-out users (the login page). */
    guest?: boolean
    title?: string
  }
}

export const router = createRouter({
  history: createWebHistory(),
  routes: [
    // Each view is its own chunk, so the first screen loads only what it shows.
    { path: '/', name: 'home', component: () => import('./people/MeView.vue'), meta: { auth: true, title: '我的' } },
    { path: '/login', name: 'login', component: () => import('./people/LoginView.vue'), meta: { guest: true, title: '登录' } },
    { path: '/:pathMatch(.*)*', redirect: '/' },
  ],
})

router.beforeEach(async (to) => {
  await restoreSession() // fast: one IndexedDB read, once
  if (to.meta.auth && !session.user) {
    return { name: 'login', query: to.fullPath === '/' ? {} : { redirect: to.fullPath } }
  }
  if (to.meta.guest && session.user) return { name: 'home' }
  return true
})

router.afterEach((to) => {
  document.title = to.meta.title ? `${to.meta.title} · 枫桥网格通` : '枫桥网格通'
})

// A chunk that fails to load (usually: the app was updated on the server) – reload once.
router.onError((err, to) => {
  const msg = String((err as Error)?.message ?? err)
  if (/dynamically imported module|Importing a module script failed|Failed to fetch/i.test(msg)) {
    const flag = 'fengqiao.chunkReload'
    if (!sessionStorage.getItem(flag)) {
      sessionStorage.setItem(flag, '1')
      window.location.assign(to.fullPath)
    }
  }
})

// The server ended the session (device revoked, refresh expired): go to the login page.
onSignedOut(() => {
  if (router.currentRoute.value.name !== 'login') void router.replace({ name: 'login' })
})
