// The registration desk: scan a 方便就医卡, ask the service, show a big green or red answer.
//
// Written for the browsers found on office PCs (Chromium 66 and later, including the
// "360"-style shells): no modules, no optional chaining, no replaceChildren.
// Every piece of text from the service goes in through textContent, never as HTML.
'use strict';

(function () {
  var TOKEN_KEY = 'greenchannel.desk.token';
  var TIMEOUT_MS = 10000;
  var RECENT_SHOWN = 12;

  // The recent list carries only the verdict code; these are its short words.
  var VERDICT_WORDS = {
    valid: '有效',
    revoked: '已作废',
    suspended: '已暂停',
    expired: '已过期',
    not_yet_valid: '未生效',
    bad_signature: '伪造或损坏',
    unknown_key: '非本区卡',
    key_compromised: '密钥已失效',
    key_retired: '密钥已停用',
    malformed: '无法识别'
  };

  function $(id) {
    return document.getElementById(id);
  }

  var ui = {
    logout: $('logout'),
    login: $('login'),
    loginForm: $('login-form'),
    token: $('token'),
    loginMessage: $('login-message'),
    desk: $('desk'),
    scan: $('scan'),
    imeHint: $('ime-hint'),
    cameraButton: $('camera-button'),
    camera: $('camera'),
    video: $('camera-video'),
    cameraClose: $('camera-close'),
    result: $('result'),
    recentList: $('recent-list'),
    recentMessage: $('recent-message')
  };

  // ---- the token ---------------------------------------------------------------------------

  // Where localStorage is refused (a locked-down profile) the token lives until the tab closes.
  var memoryToken = null;

  function getToken() {
    try {
      return window.localStorage.getItem(TOKEN_KEY) || memoryToken;
    } catch (e) {
      return memoryToken;
    }
  }

  function setToken(value) {
    memoryToken = value;
    try {
      window.localStorage.setItem(TOKEN_KEY, value);
    } catch (e) {
      // kept in memory only
    }
  }

  function forgetToken() {
    memoryToken = null;
    try {
      window.localStorage.removeItem(TOKEN_KEY);
    } catch (e) {
      // nothing stored
    }
  }

  function showLogin(message) {
    closeCamera();
    ui.desk.hidden = true;
    ui.logout.hidden = true;
    ui.login.hidden = false;
    ui.loginMessage.textContent = message || '';
    ui.token.value = '';
    ui.token.focus();
  }

  function showDesk() {
    ui.login.hidden = true;
    ui.desk.hidden = false;
    ui.logout.hidden = false;
    renderIdle();
    refreshRecent();
    focusScan();
  }

  function start() {
    if (getToken()) {
      showDesk();
    } else {
      showLogin('');
    }
  }

  // ---- talking to the service --------------------------------------------------------------

  // Thrown when the service refused the token: the login form is already showing.
  function AuthRequired() {}

  // Resolves to {status, ok, data} where data is the parsed JSON body or null.
  function api(method, path, body) {
    var controller = typeof AbortController === 'function' ? new AbortController() : null;
    var timer = null;
    var headers = { Authorization: 'Bearer ' + getToken(), Accept: 'application/json' };
    var init = { method: method, headers: headers, cache: 'no-store', credentials: 'omit' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    if (controller) {
      init.signal = controller.signal;
      timer = setTimeout(function () {
        controller.abort();
      }, TIMEOUT_MS);
    }
    return fetch(path, init)
      .then(function (res) {
        if (res.status === 401) {
          forgetToken();
          showLogin('窗口令牌无效或已停用，请重新输入');
          throw new AuthRequired();
        }
        return res.text().then(function (text) {
          var data = null;
          try {
            data = text ? JSON.parse(text) : null;
          } catch (e) {
            data = null;
          }
          return { status: res.status, ok: res.ok, data: data };
        });
      })
      .then(
        function (answer) {
          if (timer) clearTimeout(timer);
          return answer;
        },
        function (err) {
          if (timer) clearTimeout(timer);
          throw err;
        }
      );
  }

  // A refused request in words a desk can act on; the service's own detail goes beneath.
  function statusText(status) {
    if (status === 403) return '此令牌无核验权限，请点“退出”后换用本窗口的令牌';
    if (status === 429) return '请求过于频繁，请稍后重试';
    if (status === 503) return '服务暂不可用，请稍后重试';
    if (status < 400) return '服务器的答复无法识别（HTTP ' + status + '），请联系管理员';
    if (status >= 500) return '服务器出错（HTTP ' + status + '），请稍后重试或联系管理员';
    return '扫码内容无法提交（HTTP ' + status + '）';
  }

  function problemDetail(data) {
    if (data && typeof data.detail === 'string' && data.detail) return data.detail;
    if (data && typeof data.title === 'string' && data.title) return data.title;
    return '';
  }

  function problemText(status, data) {
    var detail = problemDetail(data);
    return detail ? statusText(status) + '：' + detail : statusText(status);
  }

  function networkText(err) {
    if (err && err.name === 'AbortError') return '服务器无响应（超过 10 秒），请重试';
    if (navigator.onLine === false) return '本机网络已断开，请检查网线或 Wi-Fi';
    return '无法连接服务器，请检查网络后重试';
  }

  // ---- verifying ---------------------------------------------------------------------------

  // Only the answer to the latest scan is shown; an older one arriving late is dropped.
  var scanSeq = 0;

  function verify(text) {
    var mine = ++scanSeq;
    renderPending();
    return api('POST', '/api/v1/verify', { qr: text })
      .then(function (answer) {
        if (mine !== scanSeq) return;
        if (answer.ok && answer.data && typeof answer.data.verdict === 'string') {
          renderVerdict(answer.data);
        } else {
          renderError(statusText(answer.status), problemDetail(answer.data));
        }
      })
      .catch(function (err) {
        if (err instanceof AuthRequired) return;
        if (mine === scanSeq) renderError(networkText(err));
      })
      .then(function () {
        if (ui.desk.hidden) return;
        refreshRecent();
        focusScan();
      });
  }

  // ---- the result panel --------------------------------------------------------------------

  function node(tag, className, text) {
    var el = document.createElement(tag);
    if (className) el.className = className;
    if (text !== undefined && text !== null) el.textContent = String(text);
    return el;
  }

  function clear(el) {
    while (el.firstChild) el.removeChild(el.firstChild);
  }

  function setPanel(className, verdict) {
    var panel = ui.result;
    clear(panel);
    panel.className = 'result ' + className;
    panel.setAttribute('data-verdict', verdict);
    // Restart the flash so that two answers in a row are seen as two.
    void panel.offsetWidth;
    panel.className = 'result ' + className + ' fresh';
    return panel;
  }

  function renderIdle() {
    var panel = setPanel('idle', '');
    panel.appendChild(node('p', 'headline', '等待扫码'));
  }

  function renderPending() {
    var panel = setPanel('pending', 'pending');
    panel.appendChild(node('p', 'headline', '正在核验…'));
  }

  function renderError(text, detail) {
    var panel = setPanel('invalid', 'error');
    panel.appendChild(node('p', 'headline', '✗ 无法核验'));
    panel.appendChild(node('p', 'reason', text));
    if (detail) panel.appendChild(node('p', 'detail', detail));
    panel.appendChild(node('p', 'stamp', stamp()));
  }

  function renderVerdict(data) {
    var valid = data.verdict === 'valid';
    var panel = setPanel(valid ? 'valid' : 'invalid', data.verdict);
    if (valid) {
      panel.appendChild(node('p', 'headline', '✓ 有效 · 可享受优先服务'));
    } else {
      panel.appendChild(node('p', 'headline', '✗ 无效'));
      panel.appendChild(node('p', 'reason', data.reason_zh || data.verdict));
    }

    var card = data.card;
    if (card && typeof card === 'object') {
      var who = node('div', 'holder');
      who.appendChild(node('span', 'name', card.masked_name || '—'));
      if (card.id_last_four) {
        who.appendChild(node('span', 'idfour', '身份证后四位 ' + card.id_last_four));
      }
      panel.appendChild(who);
      var facts = node('p', 'facts');
      if (card.serial) facts.appendChild(node('span', null, '卡号 ' + card.serial));
      if (card.expires) facts.appendChild(node('span', null, '有效期至 ' + card.expires));
      panel.appendChild(facts);
    }

    // A copied-card warning is about the person in front of the desk: show it before the rest.
    if (data.note_zh) {
      panel.appendChild(node('p', 'note', '⚠ ' + data.note_zh));
    }

    var priorities = Array.isArray(data.priorities) ? data.priorities : [];
    if (valid) {
      if (priorities.length) {
        var list = node('ul', 'priorities');
        priorities.forEach(function (p) {
          var li = node('li', null, (p && (p.zh || p.code)) || '');
          if (p && p.code) li.setAttribute('data-code', p.code);
          list.appendChild(li);
        });
        panel.appendChild(list);
      } else {
        panel.appendChild(node('p', 'facts', '本机构无对应的优先服务项目'));
      }
    }

    if (data.checkup_available === true) {
      panel.appendChild(node('p', 'checkup', '本年度免费健康查体：可预约'));
    } else if (data.checkup_available === false) {
      panel.appendChild(node('p', 'checkup', '本年度免费健康查体：已使用'));
    }

    panel.appendChild(node('p', 'stamp', stamp()));
  }

  function stamp() {
    return '核验时间 ' + clock(new Date());
  }

  function pad(n) {
    return n < 10 ? '0' + n : String(n);
  }

  function clock(d) {
    return pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
  }

  // ---- this desk's last scans --------------------------------------------------------------

  var recentSeq = 0;

  function refreshRecent() {
    var mine = ++recentSeq;
    return api('GET', '/api/v1/verify/recent')
      .then(function (answer) {
        if (mine !== recentSeq) return;
        if (answer.ok && Array.isArray(answer.data)) {
          ui.recentMessage.hidden = true;
          renderRecent(answer.data);
        } else {
          showRecentMessage('最近记录暂时无法读取：' + problemText(answer.status, answer.data));
        }
      })
      .catch(function (err) {
        if (err instanceof AuthRequired) return;
        if (mine === recentSeq) showRecentMessage('最近记录暂时无法读取：' + networkText(err));
      });
  }

  function showRecentMessage(text) {
    ui.recentMessage.textContent = text;
    ui.recentMessage.hidden = false;
  }

  function renderRecent(items) {
    clear(ui.recentList);
    if (!items.length) {
      ui.recentList.appendChild(node('li', 'empty', '暂无记录'));
      return;
    }
    var today = new Date().toDateString();
    items.slice(0, RECENT_SHOWN).forEach(function (item) {
      var ok = item && item.verdict === 'valid';
      var li = node('li', ok ? 'ok' : 'bad');
      li.setAttribute('data-verdict', (item && item.verdict) || '');
      var at = new Date(item && item.at);
      var when = isNaN(at.getTime())
        ? String((item && item.at) || '')
        : (at.toDateString() === today ? '' : (at.getMonth() + 1) + '月' + at.getDate() + '日 ') +
          clock(at);
      li.appendChild(node('span', 'when', when));
      li.appendChild(node('span', 'who', (item && item.masked_name) || '—'));
      li.appendChild(
        node('span', 'word', VERDICT_WORDS[item && item.verdict] || (ok ? '有效' : '无效'))
      );
      ui.recentList.appendChild(li);
    });
  }

  // ---- the scanner input and focus ---------------------------------------------------------

  function focusScan() {
    if (ui.desk.hidden || !ui.camera.hidden) return;
    if (document.activeElement !== ui.scan) ui.scan.focus();
  }

  ui.scan.addEventListener('keydown', function (e) {
    // A USB scanner types the text and presses Enter. Enter during an IME composition only
    // commits the composition and is not a scan.
    if (e.key !== 'Enter' && e.keyCode !== 13) return;
    if (e.isComposing) return;
    e.preventDefault();
    var text = ui.scan.value.trim();
    ui.scan.value = '';
    if (!text) return;
    ui.imeHint.hidden = true;
    verify(text);
  });

  // A Chinese input method swallows the scanner's keystrokes: say so instead of failing quietly.
  ui.scan.addEventListener('compositionstart', function () {
    ui.imeHint.hidden = false;
  });

  window.addEventListener('focus', focusScan);
  document.addEventListener('visibilitychange', function () {
    if (document.visibilityState === 'visible' && !ui.desk.hidden) {
      focusScan();
      refreshRecent();
    }
  });
  // A click on the page's background gives the focus back to the scanner input.
  document.addEventListener('click', function (e) {
    var target = e.target;
    if (target && target.closest && target.closest('input, button, a, video')) return;
    focusScan();
  });

  // ---- the token form and logout -----------------------------------------------------------

  ui.loginForm.addEventListener('submit', function (e) {
    e.preventDefault();
    var value = ui.token.value.trim();
    // A token is printable ASCII; anything else (say, typed through an input method) could
    // not even be sent in a header.
    if (!/^[\x21-\x7e]+$/.test(value)) {
      ui.loginMessage.textContent = value ? '令牌格式不正确，请切换到英文输入法后重新输入' : '令牌不能为空';
      ui.token.focus();
      return;
    }
    setToken(value);
    ui.token.value = '';
    showDesk();
  });

  ui.logout.addEventListener('click', function (e) {
    e.preventDefault();
    forgetToken();
    clear(ui.recentList);
    showLogin('已退出');
  });

  // ---- camera scanning, where the browser has a barcode detector --------------------------

  var stream = null;
  var detector = null;
  var detecting = false;

  function cameraPossible() {
    return (
      'BarcodeDetector' in window &&
      !!navigator.mediaDevices &&
      typeof navigator.mediaDevices.getUserMedia === 'function'
    );
  }

  function offerCamera() {
    if (!cameraPossible()) return;
    var formats =
      typeof window.BarcodeDetector.getSupportedFormats === 'function'
        ? window.BarcodeDetector.getSupportedFormats()
        : Promise.resolve(['qr_code']);
    formats
      .then(function (list) {
        if (list && list.indexOf('qr_code') >= 0) ui.cameraButton.hidden = false;
      })
      .catch(function () {
        // no detector after all: the button stays hidden
      });
  }

  function openCamera() {
    if (stream) return;
    try {
      detector = detector || new window.BarcodeDetector({ formats: ['qr_code'] });
    } catch (e) {
      ui.cameraButton.hidden = true;
      return;
    }
    navigator.mediaDevices
      .getUserMedia({ video: { facingMode: 'environment' }, audio: false })
      .then(function (s) {
        stream = s;
        ui.video.srcObject = s;
        ui.camera.hidden = false;
        detecting = true;
        var playing = ui.video.play();
        if (playing && playing.catch) playing.catch(function () {});
        detectLoop();
      })
      .catch(function (err) {
        renderError('无法打开摄像头：' + ((err && (err.message || err.name)) || '未知原因'));
        focusScan();
      });
  }

  function closeCamera() {
    detecting = false;
    if (stream) {
      stream.getTracks().forEach(function (t) {
        t.stop();
      });
    }
    stream = null;
    ui.video.srcObject = null;
    ui.camera.hidden = true;
  }

  function detectLoop() {
    if (!detecting) return;
    var next = function () {
      if (detecting) setTimeout(detectLoop, 150);
    };
    if (ui.video.readyState < 2) {
      next();
      return;
    }
    detector
      .detect(ui.video)
      .then(function (codes) {
        var hit = null;
        for (var i = 0; i < codes.length; i++) {
          if (codes[i].rawValue) {
            hit = codes[i].rawValue.trim();
            break;
          }
        }
        if (hit && detecting) {
          closeCamera();
          verify(hit);
        } else {
          next();
        }
      })
      .catch(next);
  }

  ui.cameraButton.addEventListener('click', openCamera);
  ui.cameraClose.addEventListener('click', function () {
    closeCamera();
    focusScan();
  });
  document.addEventListener('keydown', function (e) {
    if ((e.key === 'Escape' || e.keyCode === 27) && stream) {
      closeCamera();
      focusScan();
    }
  });

  offerCamera();
  start();
})();
