import { createRouter, createWebHistory } from 'vue-router'
import { onSignedOut, restoreSession, session } from './core/session'
import { mayOpen } from './people/labels'
import { MAP_LIMIT, prefetchAreaCases } from './map/api'
import { adminRoutes, installAdminGuard } from './admin/routes'
import { installPeopleHooks } from './people/hooks'
// In the entry chunk, not a chunk of its own: on a first load the sign-in screen is what shows, and a
// separate chunk (with its Vant pieces, a dozen files) cost one more 2 s round trip on Slow 3G.
import LoginView from './people/LoginView.vue'

declare module 'vue-router' {
  interface RouteMeta {
    /** Needs a signed-in user. */
    auth?: boolean
    /** Only for signed-out users (the login page). */
    guest?: boolean
    title?: string
    /** Only for township supervisors and county admins. */
    supervisor?: boolean
    /** The map, dashboard and reports: supervisors and team leaders (seesOverview). */
    overview?: boolean
  }
}

export const router = createRouter({
  history: createWebHistory(),
  routes: [
    // Each view is its own chunk, so the first screen loads only what it shows.
    { path: '/', name: 'home', component: () => import('./home/HomeView.vue'), meta: { auth: true, title: '首页' } },
    { path: '/login', name: 'login', component: LoginView, meta: { guest: true, title: '登录' } },
    { path: '/me', name: 'me', component: () => import('./people/MeView.vue'), meta: { auth: true, title: '我的' } },
    { path: '/password', name: 'password', component: () => import('./people/PasswordView.vue'), meta: { auth: true, title: '设置新密码' } },
    { path: '/capture', name: 'capture', component: () => import('./cases/CaptureView.vue'), meta: { auth: true, title: '登记纠纷' } },
    // Leaflet is only in this route's chunk.
    { path: '/capture/map', name: 'capture-map', component: () => import('./cases/MapPickView.vue'), meta: { auth: true, title: '地图选点' } },
    { path: '/outbox', name: 'outbox', component: () => import('./sync/OutboxView.vue'), meta: { auth: true, title: '待同步' } },
    { path: '/cases', name: 'cases', component: () => import('./cases/CaseListView.vue'), meta: { auth: true, title: '我的案件' } },
    { path: '/cases/:id', name: 'case', component: () => import('./cases/CaseDetailView.vue'), props: true, meta: { auth: true, title: '案件详情' } },
    { path: '/cases/:id/act/:action', name: 'case-act', component: () => import('./cases/CaseActionView.vue'), props: true, meta: { auth: true, title: '办理' } },
    { path: '/visits', name: 'visits', component: () => import('./visits/VisitsView.vue'), meta: { auth: true, title: '回访' } },
    { path: '/visits/:id', redirect: (to) => `/visits/${String(to.params.id)}/record` },
    { path: '/visits/:id/record', name: 'visit-record', component: () => import('./visits/VisitRecordView.vue'), props: true, meta: { auth: true, title: '记录回访' } },
    { path: '/screenings', name: 'screenings', component: () => import('./screenings/ScreeningView.vue'), meta: { auth: true, title: '月排查' } },
    { path: '/inbox', name: 'inbox', component: () => import('./notify/InboxView.vue'), meta: { auth: true, title: '消息' } },
    // The supervisors' and team leaders' screens: Leaflet + supercluster and ECharts load only in these routes' chunks.
    {
      path: '/map',
      name: 'map',
      component: () => import('./map/MapView.vue'),
      // The area's cases are the longest wait: ask for them while the map's chunk still loads.
      beforeEnter: () => prefetchAreaCases(MAP_LIMIT),
      meta: { auth: true, overview: true, title: '地图' },
    },
    { path: '/dashboard', name: 'dashboard', component: () => import('./reports/DashboardView.vue'), meta: { auth: true, overview: true, title: '统计' } },
    // 督办: supervisors issue and accept; a team leader sees the orders on the team's cases (the list is scoped).
    { path: '/supervision', name: 'supervision', component: () => import('./supervision/SupervisionView.vue'), meta: { auth: true, overview: true, title: '督办' } },
    { path: '/reports', name: 'reports', component: () => import('./reports/ReportsView.vue'), meta: { auth: true, overview: true, title: '报表' } },
    // The admin console (county admins, township supervisors).
    ...adminRoutes,
    // County admins (the server checks; the view says so to anyone else). Linked from the admin console.
    { path: '/admin/grids', name: 'admin-grids', component: () => import('./admin/GridsView.vue'), meta: { auth: true, supervisor: true, title: '网格管理' } },
    { path: '/:pathMatch(.*)*', redirect: '/' },
  ],
})

router.beforeEach(async (to) => {
  await restoreSession() // fast: one IndexedDB read, once
  if (to.meta.auth && !session.user) {
    return { name: 'login', query: to.fullPath === '/' ? {} : { redirect: to.fullPath } }
  }
  if (to.meta.guest && session.user) return { name: 'home' }
  if (!mayOpen(to.meta, session.user)) return { name: 'home' }
  return true
})

// After the guard above: a one-time password must be replaced first; county-only console screens.
installPeopleHooks(router)
installAdminGuard(router)

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
