// The simulated subscriber's phone. Every bit of text is set with textContent (never HTML).
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const chat = $("chat"), accountSel = $("account"), openidInput = $("openid"), aesBox = $("aes");
  let lastCallId = 0;

  function randomId() { return "sim-" + Math.random().toString(36).slice(2, 10); }
  openidInput.value = localStorage.getItem("sim.openid") || randomId();
  localStorage.setItem("sim.openid", openidInput.value);
  openidInput.addEventListener("change", () => {
    localStorage.setItem("sim.openid", openidInput.value.trim());
    chat.textContent = "";
    lastCallId = 0;
  });

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function row(mine, child) {
    const r = el("div", "row" + (mine ? " me" : ""));
    r.appendChild(child);
    chat.appendChild(r);
    chat.scrollTop = chat.scrollHeight;
    return r;
  }
  function system(text) { row(false, el("div", "bubble system", text)); }
  function raw(bubble, label, text) {
    if (!text) return;
    const d = el("details"); d.appendChild(el("summary", "", label));
    d.appendChild(el("pre", "", text)); bubble.appendChild(d);
  }
  function showReply(reply) {
    if (reply.kind === "text") {
      const b = el("div", "bubble", reply.text); raw(b, "原始 XML", reply.raw); row(false, b);
    } else if (reply.kind === "news") {
      const a = el("a", "card"); a.href = reply.article.Url || "#"; a.target = "_blank";
      a.rel = "noopener";
      a.appendChild(el("strong", "", reply.article.Title));
      a.appendChild(el("span", "", reply.article.Description));
      row(false, a);
    } else if (reply.kind === "success") {
      system("（公众号没有被动回复）");
    } else {
      row(false, el("div", "bubble error", "错误 " + reply.status + "：" + reply.text));
    }
  }
  async function send(payload) {
    payload.account = accountSel.value;
    payload.openid = openidInput.value.trim();
    payload.aes = aesBox.checked;
    let response;
    try {
      response = await fetch("send", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify(payload) });
    } catch (e) { system("网络错误：" + e); return; }
    const data = await response.json();
    if (!response.ok) { row(false, el("div", "bubble error", data.error || "出错了")); return; }
    showReply(data);
  }

  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("text").value;
    if (!text.trim()) return;
    row(true, el("div", "bubble", text));
    $("text").value = "";
    send({ kind: "text", text: text });
  });
  $("follow").addEventListener("click", () => { system("你关注了公众号"); send({ kind: "event", event: "subscribe" }); });
  $("unfollow").addEventListener("click", () => { system("你取消了关注"); send({ kind: "event", event: "unsubscribe" }); });

  function updateAes() {
    const opt = accountSel.options[accountSel.selectedIndex];
    aesBox.disabled = !opt || opt.dataset.aes !== "1";
    if (aesBox.disabled) aesBox.checked = false;
  }
  accountSel.addEventListener("change", () => { updateAes(); loadMenu(); });

  function menuButton(button, nav) {
    const b = el("button", "", button.name); b.type = "button";
    b.addEventListener("click", () => {
      document.querySelectorAll("nav#menu .top.open").forEach((n) => n.classList.remove("open"));
      if (button.type === "view") { window.open(button.url, "_blank", "noopener"); return; }
      system("点击菜单：" + button.name);
      send({ kind: "event", event: "CLICK", key: button.key });
    });
    nav.appendChild(b);
  }
  async function loadMenu() {
    const nav = $("menu"); nav.textContent = "";
    let menu;
    try { menu = await (await fetch("menu?account=" + encodeURIComponent(accountSel.value))).json(); }
    catch (e) { return; }
    (menu.button || []).forEach((top) => {
      const wrap = el("div", "top");
      if (top.sub_button && top.sub_button.length) {
        const t = el("button", "", "≡ " + top.name); t.type = "button";
        t.addEventListener("click", () => wrap.classList.toggle("open"));
        const subs = el("div", "subs");
        top.sub_button.forEach((s) => menuButton(s, subs));
        wrap.appendChild(subs); wrap.appendChild(t);
      } else { menuButton(top, wrap); }
      nav.appendChild(wrap);
    });
  }

  async function poll() {
    const openid = openidInput.value.trim();
    try {
      const url = "api/_calls?touser=" + encodeURIComponent(openid) + "&since=" + lastCallId;
      const calls = await (await fetch(url)).json();
      calls.forEach((call) => {
        lastCallId = Math.max(lastCallId, call.id);
        if (call.errcode !== 0 || !call.body) return;
        let text = null;
        if (call.path === "message/custom/send") {
          if (call.body.msgtype === "text") text = call.body.text.content;
          else if (call.body.msgtype === "news") text = call.body.news.articles[0].title;
        } else if (call.path === "message/template/send") {
          text = "模板消息：" + JSON.stringify(call.body.data);
        }
        if (text !== null) {
          const b = el("div", "bubble push"); b.appendChild(el("span", "tag", "推送"));
          b.appendChild(document.createTextNode(text)); row(false, b);
        }
      });
    } catch (e) { /* the server may be restarting */ }
  }
  async function start() {
    // skip pushes that happened before this page opened
    try {
      const calls = await (await fetch("api/_calls?touser=" + encodeURIComponent(openidInput.value.trim()))).json();
      calls.forEach((c) => { lastCallId = Math.max(lastCallId, c.id); });
    } catch (e) { /* ignore */ }
    updateAes(); loadMenu();
    setInterval(poll, 2000);
    system("这是模拟的微信客户端：消息经过签名的 HTTP 请求发送到真实的 webhook。");
  }
  start();
})();
