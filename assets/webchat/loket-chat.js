/*
 * Loket web chat: an embeddable, accessible chat window for a municipality's website.
 *
 * Embed:
 *   <script src="https://loket.example.nl/chat/loket-chat.js"
 *           data-loket-url="https://loket.example.nl"
 *           data-title="Gemeente Voorbeeld" defer></script>
 *
 * With an element #loket-chat on the page the chat is rendered inline in it; otherwise a
 * launcher button ("Stel uw vraag") opens a floating panel. Plain ES2019, no framework,
 * no build step, nothing loaded from anywhere but Loket itself.
 *
 * API: POST {base}/v1/messages and GET {base}/v1/chat/{id}/messages?after={id}.
 * Server text is only ever set with textContent (links are built as elements).
 */
(function () {
  "use strict";

  var STORAGE_KEY = "loket.conversation_id";
  var POLL_MS = 4000;
  var TEXT = {
    launcher: "Stel uw vraag",
    label: "Uw vraag",
    placeholder: "Typ uw vraag…",
    send: "Verstuur",
    newChat: "Nieuw gesprek",
    close: "Sluiten",
    typing: "Loket is aan het typen…",
    options: "Kies een onderwerp",
    log: "Gesprek",
    you: "U",
    bot: "Loket",
    agent: "Medewerker",
    intro:
      "Welkom! Ik ben de digitale assistent van {name}. Stel uw vraag in een paar woorden, bijvoorbeeld: Wat kost een paspoort?",
    privacy: "Deel geen persoonsgegevens zoals uw BSN in de chat.",
    busy: "Het is even druk, probeer het zo opnieuw.",
    offline:
      "Er is geen verbinding met Loket. Controleer uw internetverbinding en probeer het opnieuw.",
    failed: "Er ging iets mis. Probeer het later opnieuw.",
    tooLong: "Uw bericht is te lang. Maak het korter en probeer het opnieuw.",
    waiting: "U wacht op een medewerker. U krijgt hier antwoord.",
    assigned: "Een medewerker helpt u verder.",
    resolved: "De medewerker heeft het gesprek afgesloten."
  };

  var script =
    document.currentScript ||
    (function () {
      var all = document.querySelectorAll("script[src]");
      for (var i = all.length - 1; i >= 0; i--) {
        if (/loket-chat\.js(\?|#|$)/.test(all[i].getAttribute("src"))) return all[i];
      }
      return null;
    })();

  function baseUrl() {
    var explicit = script && script.getAttribute("data-loket-url");
    if (explicit) return explicit.replace(/\/+$/, "");
    if (script && script.src) {
      try {
        return new URL(script.src, document.baseURI).origin;
      } catch (e) {
        /* fall through */
      }
    }
    return window.location.origin;
  }

  var BASE = baseUrl();
  var TITLE = (script && script.getAttribute("data-title")) || "Loket";
  /* The municipality, when one Loket serves several: its answers and its look. */
  var GEMEENTE = (script && script.getAttribute("data-gemeente")) || "";
  var counter = 0;

  /* One conversation per municipality: a site showing two municipalities' chats (the demo
     pages of one Loket) keeps them apart. */
  function storageKey() {
    return GEMEENTE ? STORAGE_KEY + "." + GEMEENTE : STORAGE_KEY;
  }

  /* ---------- small helpers ---------- */

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function uid(prefix) {
    counter += 1;
    return prefix + "-" + counter;
  }

  function newConversationId() {
    var c = window.crypto;
    if (c && typeof c.randomUUID === "function") return c.randomUUID();
    var b = new Uint8Array(16);
    if (c && c.getRandomValues) {
      c.getRandomValues(b);
    } else {
      for (var i = 0; i < 16; i++) b[i] = Math.floor(Math.random() * 256);
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = [];
    for (var j = 0; j < 16; j++) h.push((b[j] + 0x100).toString(16).slice(1));
    return (
      h.slice(0, 4).join("") + "-" + h.slice(4, 6).join("") + "-" + h.slice(6, 8).join("") +
      "-" + h.slice(8, 10).join("") + "-" + h.slice(10).join("")
    );
  }

  function loadId() {
    try {
      return window.localStorage.getItem(storageKey());
    } catch (e) {
      return null;
    }
  }

  function saveId(id) {
    try {
      window.localStorage.setItem(storageKey(), id);
    } catch (e) {
      /* storage disabled: the conversation lasts as long as the page */
    }
  }

  var URL_RE = /\b(?:https?:\/\/|www\.)[^\s<>"']+/gi;

  /* Appends text to a node: line breaks are kept by CSS (white-space: pre-wrap), web
   * addresses become links. Never parses the text as HTML. */
  function appendRichText(node, text) {
    var last = 0;
    var match;
    URL_RE.lastIndex = 0;
    while ((match = URL_RE.exec(text)) !== null) {
      var url = match[0];
      // Leave sentence punctuation after an address outside the link.
      var trail = /[.,;:!?)\]]+$/.exec(url);
      if (trail) url = url.slice(0, url.length - trail[0].length);
      if (match.index > last) node.appendChild(document.createTextNode(text.slice(last, match.index)));
      var a = el("a", "loket-chat__link", url);
      a.href = /^www\./i.test(url) ? "https://" + url : url;
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      node.appendChild(a);
      last = match.index + url.length;
      URL_RE.lastIndex = last;
    }
    if (last < text.length) node.appendChild(document.createTextNode(text.slice(last)));
  }

  function optionLabel(opt) {
    return opt.description || opt.title;
  }

  function request(method, path, body) {
    var init = { method: method, headers: { Accept: "application/json" }, credentials: "omit" };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return window.fetch(BASE + path, init).then(
      function (resp) {
        return resp
          .json()
          .catch(function () {
            return null;
          })
          .then(function (data) {
            if (!resp.ok) {
              var err = new Error("HTTP " + resp.status);
              err.status = resp.status;
              err.data = data;
              throw err;
            }
            return data;
          });
      },
      function (e) {
        var err = new Error("network: " + e);
        err.status = 0;
        throw err;
      }
    );
  }

  function errorText(err) {
    if (err.status === 429) return TEXT.busy;
    if (err.status === 0) return TEXT.offline;
    if (err.status === 413) return TEXT.tooLong;
    return TEXT.failed;
  }

  /* ---------- the widget ---------- */

  function Chat(host, inline) {
    this.inline = inline;
    this.conversationId = loadId();
    this.lastId = 0;
    this.seen = {};
    this.busy = false;
    this.polling = false;
    this.timer = null;
    this.open = inline;
    this.status = "bot";
    this.build(host);
    if (this.conversationId) {
      this.restore();
    } else {
      this.conversationId = newConversationId();
      saveId(this.conversationId);
    }
    if (inline) this.startPolling();
  }

  Chat.prototype.build = function (host) {
    var self = this;
    var root = el("section", "loket-chat " + (this.inline ? "loket-chat--inline" : "loket-chat--floating"));
    root.setAttribute("lang", "nl");
    var titleId = uid("loket-chat-title");
    root.setAttribute("aria-labelledby", titleId);
    this.root = root;

    var panel = el("div", "loket-chat__panel");
    this.panel = panel;
    if (!this.inline) {
      panel.id = uid("loket-chat-panel");
      panel.setAttribute("role", "dialog");
      panel.setAttribute("aria-labelledby", titleId);
      panel.hidden = true;
    }

    var header = el("div", "loket-chat__header");
    var title = el("h2", "loket-chat__title", TITLE);
    var logo = el("span", "loket-chat__logo");
    logo.setAttribute("aria-hidden", "true");
    header.appendChild(logo);
    title.id = titleId;
    header.appendChild(title);
    var actions = el("div", "loket-chat__actions");
    var reset = el("button", "loket-chat__button loket-chat__button--header", TEXT.newChat);
    reset.type = "button";
    reset.addEventListener("click", function () {
      self.reset();
    });
    actions.appendChild(reset);
    if (!this.inline) {
      var close = el("button", "loket-chat__button loket-chat__button--header", TEXT.close);
      close.type = "button";
      close.addEventListener("click", function () {
        self.setOpen(false);
      });
      actions.appendChild(close);
    }
    header.appendChild(actions);
    panel.appendChild(header);

    var log = el("div", "loket-chat__log");
    log.setAttribute("role", "log");
    log.setAttribute("aria-live", "polite");
    log.setAttribute("aria-label", TEXT.log);
    log.tabIndex = 0;
    this.log = log;
    panel.appendChild(log);

    var status = el("div", "loket-chat__status");
    status.setAttribute("role", "status");
    var typing = el("span", "loket-chat__typing");
    typing.hidden = true;
    var dots = el("span", "loket-chat__dots");
    dots.setAttribute("aria-hidden", "true");
    dots.appendChild(el("span"));
    dots.appendChild(el("span"));
    dots.appendChild(el("span"));
    typing.appendChild(dots);
    typing.appendChild(el("span", "loket-chat__typing-text", TEXT.typing));
    status.appendChild(typing);
    var notice = el("span", "loket-chat__notice");
    status.appendChild(notice);
    this.typing = typing;
    this.notice = notice;
    panel.appendChild(status);

    var error = el("div", "loket-chat__error");
    error.setAttribute("role", "alert");
    error.hidden = true;
    this.error = error;
    panel.appendChild(error);

    var form = el("form", "loket-chat__form");
    form.noValidate = true;
    var inputId = uid("loket-chat-input");
    var label = el("label", "loket-chat__label", TEXT.label);
    label.htmlFor = inputId;
    var input = el("input", "loket-chat__input");
    input.type = "text";
    input.id = inputId;
    input.name = "vraag";
    input.placeholder = TEXT.placeholder;
    input.autocomplete = "off";
    input.maxLength = 4096;
    var send = el("button", "loket-chat__button loket-chat__send", TEXT.send);
    send.type = "submit";
    form.appendChild(label);
    form.appendChild(input);
    form.appendChild(send);
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      self.submitInput();
    });
    this.input = input;
    panel.appendChild(form);
    panel.appendChild(el("p", "loket-chat__privacy", TEXT.privacy));

    root.appendChild(panel);

    if (!this.inline) {
      var launcher = el("button", "loket-chat__launcher", TEXT.launcher);
      launcher.type = "button";
      launcher.setAttribute("aria-expanded", "false");
      launcher.setAttribute("aria-controls", panel.id);
      launcher.addEventListener("click", function () {
        self.setOpen(!self.open);
      });
      this.launcher = launcher;
      root.appendChild(launcher);
      root.addEventListener("keydown", function (ev) {
        if ((ev.key === "Escape" || ev.key === "Esc") && self.open) {
          ev.preventDefault();
          self.setOpen(false);
        }
      });
    }

    this.addIntro();
    host.appendChild(root);
  };

  Chat.prototype.addIntro = function () {
    var msg = this.renderMessage({ from: "bot", text: TEXT.intro.replace("{name}", TITLE) });
    msg.classList.add("loket-msg--intro");
  };

  Chat.prototype.setOpen = function (open) {
    if (this.inline) return;
    this.open = open;
    this.panel.hidden = !open;
    this.launcher.setAttribute("aria-expanded", open ? "true" : "false");
    this.root.classList.toggle("loket-chat--open", open);
    if (open) {
      this.scrollToEnd();
      this.input.focus();
      this.startPolling();
      this.poll();
    } else {
      this.stopPolling();
      this.launcher.focus();
    }
  };

  Chat.prototype.scrollToEnd = function () {
    this.log.scrollTop = this.log.scrollHeight;
  };

  Chat.prototype.showError = function (text) {
    this.error.textContent = text || "";
    this.error.hidden = !text;
  };

  Chat.prototype.setTyping = function (on) {
    this.typing.hidden = !on;
    this.root.classList.toggle("loket-chat--busy", on);
  };

  Chat.prototype.setStatus = function (status) {
    if (!status || status === this.status) return;
    this.status = status;
    var text = TEXT[status] || "";
    this.notice.textContent = status === "bot" ? "" : text;
  };

  /* Renders one message; returns its element. m: {id?, from, text, options?}. */
  Chat.prototype.renderMessage = function (m, optionsActive) {
    var self = this;
    var from = m.from === "citizen" || m.from === "agent" ? m.from : "bot";
    var item = el("div", "loket-msg loket-msg--" + from);
    if (m.id) {
      item.setAttribute("data-id", String(m.id));
      this.seen[m.id] = true;
      if (m.id > this.lastId) this.lastId = m.id;
    }
    var who = from === "citizen" ? TEXT.you : from === "agent" ? TEXT.agent : TEXT.bot;
    item.appendChild(el("span", "loket-msg__who", who));
    if (m.text) {
      var body = el("p", "loket-msg__text");
      appendRichText(body, String(m.text));
      item.appendChild(body);
    }
    var options = m.options || [];
    if (options.length) {
      var group = el("div", "loket-msg__options");
      group.setAttribute("role", "group");
      group.setAttribute("aria-label", TEXT.options);
      options.forEach(function (opt) {
        var b = el("button", "loket-chat__option");
        b.type = "button";
        // `description` is the full title when `title` had to be shortened (WhatsApp).
        b.appendChild(el("span", "loket-chat__option-title", optionLabel(opt)));
        b.setAttribute("data-option-id", opt.id);
        b.disabled = optionsActive === false;
        b.addEventListener("click", function () {
          self.choose(group, opt);
        });
        group.appendChild(b);
      });
      item.appendChild(group);
    }
    this.log.appendChild(item);
    this.scrollToEnd();
    // A long answer is read from its start: keep its first line in view.
    if (from !== "citizen" && item.offsetHeight > this.log.clientHeight - 24) {
      this.log.scrollTop = Math.max(0, item.offsetTop - 12);
    }
    return item;
  };

  Chat.prototype.disableAllOptions = function () {
    var buttons = this.log.querySelectorAll(".loket-chat__option");
    for (var i = 0; i < buttons.length; i++) buttons[i].disabled = true;
  };

  Chat.prototype.submitInput = function () {
    var text = this.input.value.trim();
    if (!text || this.busy) {
      this.input.focus();
      return;
    }
    this.input.value = "";
    this.send({ text: text }, null);
  };

  Chat.prototype.choose = function (group, opt) {
    if (this.busy) return;
    var buttons = group.querySelectorAll("button");
    for (var i = 0; i < buttons.length; i++) buttons[i].disabled = true;
    group.classList.add("loket-msg__options--used");
    this.input.focus();
    this.send({ text: opt.title, option_id: opt.id, label: optionLabel(opt) }, group);
  };

  /* Sends a message: shows it at once, then the typing indicator, then the reply. On
   * failure the message goes back into the input (or the options are enabled again) so
   * the citizen can try again. */
  Chat.prototype.send = function (payload, group) {
    var self = this;
    this.busy = true;
    this.showError("");
    this.disableAllOptions();
    var mine = this.renderMessage({ from: "citizen", text: payload.label || payload.text });
    this.setTyping(true);
    this.input.focus();
    var body = { conversation_id: this.conversationId, channel: "web", text: payload.text };
    if (GEMEENTE) body.municipality = GEMEENTE;
    if (payload.option_id) body.option_id = payload.option_id;
    var conversation = this.conversationId;
    request("POST", "/v1/messages", body)
      .then(function (data) {
        if (conversation !== self.conversationId) return;
        var ids = (data && data.message_ids) || {};
        if (ids.citizen) {
          mine.setAttribute("data-id", String(ids.citizen));
          self.markSeen(ids.citizen);
        }
        var reply = (data && data.reply) || {};
        if (data && data.action === "agent") {
          // A person owns the conversation: their answer arrives through polling.
          if (ids.reply) self.markSeen(ids.reply);
          self.setStatus("assigned");
        } else if (ids.reply && self.log.querySelector('[data-id="' + Number(ids.reply) + '"]')) {
          // Already on screen.
        } else if (reply.text || (reply.options && reply.options.length)) {
          self.renderMessage({ id: ids.reply, from: "bot", text: reply.text, options: reply.options });
        }
        if (data && data.action === "handoff") self.setStatus("waiting");
      })
      .catch(function (err) {
        if (conversation !== self.conversationId) return;
        if (mine.parentNode) mine.parentNode.removeChild(mine);
        if (group) {
          var buttons = group.querySelectorAll("button");
          for (var i = 0; i < buttons.length; i++) buttons[i].disabled = false;
          group.classList.remove("loket-msg__options--used");
        } else if (!self.input.value) {
          self.input.value = payload.text;
        }
        self.enableLastOptions();
        self.showError(errorText(err));
      })
      .then(function () {
        if (conversation !== self.conversationId) return;
        self.busy = false;
        self.setTyping(false);
        if (document.activeElement === document.body || !self.root.contains(document.activeElement)) {
          if (self.open) self.input.focus();
        }
      });
  };

  Chat.prototype.markSeen = function (id) {
    this.seen[id] = true;
    if (id > this.lastId) this.lastId = id;
  };

  /* The options of the last message stay usable; older ones do not. */
  Chat.prototype.enableLastOptions = function () {
    var items = this.log.querySelectorAll(".loket-msg");
    var last = items[items.length - 1];
    if (!last) return;
    var group = last.querySelector(".loket-msg__options");
    if (!group || group.classList.contains("loket-msg__options--used")) return;
    var buttons = group.querySelectorAll("button");
    for (var i = 0; i < buttons.length; i++) buttons[i].disabled = false;
  };

  /* After a reload: the whole transcript, with the options of the last message usable. */
  Chat.prototype.restore = function () {
    var self = this;
    var conversation = this.conversationId;
    this.polling = true;
    request("GET", "/v1/chat/" + encodeURIComponent(conversation) + "/messages?after=0")
      .then(function (data) {
        if (conversation !== self.conversationId || !data) return;
        var messages = data.messages || [];
        messages.forEach(function (m, i) {
          if (self.seen[m.id]) return;
          if (!m.text && !(m.options && m.options.length)) {
            self.markSeen(m.id);
            return;
          }
          self.renderMessage(m, i === messages.length - 1);
        });
        self.setStatus(data.status);
      })
      .catch(function () {
        /* Nothing to restore (or Loket is unreachable): start with an empty window. */
      })
      .then(function () {
        self.polling = false;
      });
  };

  /* Messages that arrived without this page sending anything: a person's answers. The
   * citizen's own messages and Loket's replies are already on screen (they came with the
   * POST), so they only move the position forward. */
  Chat.prototype.poll = function () {
    var self = this;
    var started = this.lastId > 0 || this.log.querySelector(".loket-msg--citizen");
    if (this.polling || !this.open || document.hidden || !started) return;
    var conversation = this.conversationId;
    this.polling = true;
    request(
      "GET",
      "/v1/chat/" + encodeURIComponent(conversation) + "/messages?after=" + encodeURIComponent(String(this.lastId))
    )
      .then(function (data) {
        if (conversation !== self.conversationId || !data) return;
        (data.messages || []).forEach(function (m) {
          if (!m || !m.id || self.seen[m.id]) return;
          if (m.from === "agent" && (m.text || (m.options && m.options.length))) {
            self.disableAllOptions();
            self.renderMessage(m, true);
          } else {
            self.markSeen(m.id);
          }
        });
        self.setStatus(data.status);
      })
      .catch(function () {
        /* Polling is best effort; the next tick tries again. */
      })
      .then(function () {
        self.polling = false;
      });
  };

  Chat.prototype.startPolling = function () {
    var self = this;
    if (this.timer) return;
    this.timer = window.setInterval(function () {
      self.poll();
    }, POLL_MS);
  };

  Chat.prototype.stopPolling = function () {
    if (this.timer) window.clearInterval(this.timer);
    this.timer = null;
  };

  /* "Nieuw gesprek": forget this conversation and start a new one. */
  Chat.prototype.reset = function () {
    this.conversationId = newConversationId();
    saveId(this.conversationId);
    this.lastId = 0;
    this.seen = {};
    this.busy = false;
    this.polling = false;
    this.status = "bot";
    this.notice.textContent = "";
    this.setTyping(false);
    this.showError("");
    while (this.log.firstChild) this.log.removeChild(this.log.firstChild);
    this.addIntro();
    this.input.value = "";
    this.input.focus();
  };

  function start() {
    if (window.LoketChat && window.LoketChat.instance) return;
    var host = document.getElementById("loket-chat");
    var inline = !!host;
    if (!host) {
      host = document.body;
    }
    if (!document.querySelector('link[data-loket-chat], link[href$="loket-chat.css"]')) {
      var css = document.createElement("link");
      css.rel = "stylesheet";
      css.href = BASE + "/chat/loket-chat.css";
      css.setAttribute("data-loket-chat", "");
      document.head.appendChild(css);
    }
    if (GEMEENTE && !document.querySelector("link[data-loket-look]")) {
      var look = document.createElement("link");
      look.rel = "stylesheet";
      look.href = BASE + "/chat/look/" + encodeURIComponent(GEMEENTE) + ".css";
      look.setAttribute("data-loket-look", "");
      document.head.appendChild(look);
    }
    var chat = new Chat(host, inline);
    window.LoketChat = { instance: chat, version: 1 };
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
