// Service worker: shows Web Push notifications while the app is in the background.
self.addEventListener("push", (event) => {
  let msg = { title: "Dyade", body: "Nouvelle alerte", url: "/" };
  try { msg = Object.assign(msg, event.data ? event.data.json() : {}); } catch (e) {}
  event.waitUntil(self.registration.showNotification(msg.title, {
    body: msg.body, tag: msg.alert_id || "dyade", renotify: true, requireInteraction: true,
    data: { url: msg.url || "/" }, vibrate: [300, 100, 300],
  }));
});
self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(clients.matchAll({ type: "window" }).then((list) => {
    for (const c of list) { if ("focus" in c) { c.navigate(event.notification.data.url); return c.focus(); } }
    return clients.openWindow(event.notification.data.url);
  }));
});
