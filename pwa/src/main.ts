import { createApp } from 'vue'
import App from './App.vue'
import { router } from './router'
import { registerServiceWorker } from './core/pwa'
import './styles.css'

createApp(App).use(router).mount('#app')

// Register (and let it precache the whole app) only once the first screen is up, so on a slow link
// the precache does not compete with the chunks the first screen needs.
if (import.meta.env.PROD) void router.isReady().then(() => registerServiceWorker())
