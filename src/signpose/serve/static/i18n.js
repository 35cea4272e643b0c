// The page's two languages: English (the keys) and Arabic, right to left. The language
// follows the browser's unless the person chooses one (kept in this browser). Static text is
// marked in index.html (data-t: the element's text; data-t-attr: those attributes); the
// page's messages go through t("English with {names}", {names}).
"use strict";

(function (global) {
  const AR = {
    "signpose: sign recognition": "signpose: التعرّف على الإشارات",
    "Language": "اللغة",
    "the browser's": "لغة المتصفح",
    "loading the model…": "جارٍ تحميل النموذج…",
    "Model": "النموذج",
    "Press Start camera and sign in front of it, one sign after another: each recognised sign is added to the sentence. No camera? Recognise a video file instead.":
      "اضغط «تشغيل الكاميرا» وأشِر أمامها، إشارةً بعد إشارة: تُضاف كل إشارة يُتعرَّف عليها إلى الجملة. لا توجد كاميرا؟ تعرَّف على ملف فيديو بدلًا من ذلك.",
    "live recognition": "التعرّف المباشر",
    "Start camera": "تشغيل الكاميرا",
    "Stop": "إيقاف",
    "Mode": "الوضع",
    "auto (the fastest this device runs)": "تلقائي (الأسرع على هذا الجهاز)",
    "landmarks (MediaPipe in this browser)": "النقاط (MediaPipe في هذا المتصفح)",
    "frames (MediaPipe on the server)": "الإطارات (MediaPipe على الخادم)",
    "the model runs in this browser: the points never leave this device":
      "يعمل النموذج في هذا المتصفح: لا تغادر النقاط هذا الجهاز",
    "Classify on this device": "التصنيف على هذا الجهاز",
    "Threshold": "العتبة",
    "Speak signs": "نطق الإشارات",
    "mode:": "الوضع:",
    "not started": "لم يبدأ",
    "camera": "الكاميرا",
    "Press Start camera: your camera shows here, with the points the model reads drawn over it. The video stays on this device in landmarks mode.":
      "اضغط «تشغيل الكاميرا»: تظهر الكاميرا هنا وفوقها النقاط التي يقرؤها النموذج. يبقى الفيديو على هذا الجهاز في وضع النقاط.",
    "no hands visible": "لا تظهر اليدان",
    "reading": "قراءة",
    "holding": "ثبات",
    "already added:": "أُضيفت سابقًا:",
    "hold progress": "تقدّم الثبات",
    "most likely signs": "الإشارات الأرجح",
    "sentence": "الجملة",
    "recognised signs appear here": "تظهر هنا الإشارات المتعرَّف عليها",
    "Undo": "تراجع",
    "Clear": "مسح",
    "Tap a sign to correct it. Save the sentence:": "انقر إشارة لتصحيحها. احفظ الجملة:",
    "text": "نصًّا",
    "captions (WebVTT)": "ترجمة مرئية (WebVTT)",
    "Correct": "صحِّح",
    "to:": "إلى:",
    "the right sign": "الإشارة الصحيحة",
    "Cancel": "إلغاء",
    "recognise a video file": "التعرّف على ملف فيديو",
    "Recognise a clip": "التعرّف على مقطع",
    "Video file": "ملف الفيديو",
    "Recognise": "تعرَّف",
    "the clip with the recognised sign": "المقطع مع الإشارة المتعرَّف عليها",
    "recognised so far": "ما تُعرِّف عليه حتى الآن",
    "Recognised": "المتعرَّف عليه",
    "nothing yet": "لا شيء بعد",
    "signs this model knows": "الإشارات التي يعرفها هذا النموذج",
    "Signs it knows": "الإشارات التي يعرفها",
    "Landmarks mode keeps the video on this device: only the points leave it; classified on this device, not even they do.":
      "يُبقي وضع النقاط الفيديو على هذا الجهاز: لا يغادره إلا النقاط، وعند التصنيف على الجهاز لا تغادره حتى هي.",
    // the page's messages
    "connected": "متصل",
    "reconnecting…": "إعادة الاتصال…",
    "offline": "غير متصل",
    "connecting…": "جارٍ الاتصال…",
    "on this device": "على هذا الجهاز",
    "busy": "مشغول",
    "Recognises {n} signs": "يتعرّف على {n} إشارة",
    ", named in Arabic script.": "، بأسمائها العربية.",
    "the site is incomplete": "الموقع ناقص",
    "offline: cannot reach the server, retrying": "غير متصل: تعذّر الوصول إلى الخادم، جارٍ إعادة المحاولة",
    "offline: the server does not answer": "غير متصل: الخادم لا يجيب",
    "server busy; retrying in {s} s": "الخادم مشغول؛ إعادة المحاولة بعد {s} ث",
    "reconnecting in {s} s…": "إعادة الاتصال بعد {s} ث…",
    "lost the server; reconnecting": "انقطع الاتصال بالخادم؛ جارٍ إعادة الاتصال",
    "recognised: {sign}": "تُعُرِّف على: {sign}",
    "removed: {sign}": "أُزيلت: {sign}",
    "corrected: {was} to {sign}": "صُحِّحت: {was} إلى {sign}",
    "correct this sign": "صحِّح هذه الإشارة",
    "a sign at {time} was not recognised{best}": "لم يُتعرَّف على إشارة عند {time}{best}",
    "not recognised at {time}{best}: below the threshold": "لم يُتعرَّف عليها عند {time}{best}: دون العتبة",
    " (closest: {sign}, {p}%)": " (الأقرب: {sign}، {p}٪)",
    "loading MediaPipe Holistic in the browser…": "جارٍ تحميل MediaPipe Holistic في المتصفح…",
    "loading the model into this browser…": "جارٍ تحميل النموذج في هذا المتصفح…",
    "landmarks, classified on this device (nothing leaves it)": "النقاط، والتصنيف على هذا الجهاز (لا شيء يغادره)",
    "landmarks (MediaPipe in this browser; the video stays here)": "النقاط (MediaPipe في هذا المتصفح؛ يبقى الفيديو هنا)",
    "could not start: {reason}": "تعذّر البدء: {reason}",
    "choose a video file first": "اختر ملف فيديو أولًا",
    "recognising…": "جارٍ التعرّف…",
    "recognising… {s} s": "جارٍ التعرّف… {s} ث",
    "cancelled": "أُلغي",
    "cannot reach the server; check that it is running and try again": "تعذّر الوصول إلى الخادم؛ تحقّق من تشغيله وحاول مجددًا",
    "{n} signs, one after another:": "{n} إشارات، واحدة تلو الأخرى:",
    "Add to the sentence": "أضِف إلى الجملة",
    "added {n} signs": "أُضيفت {n} إشارات",
    "the clip: {signs}": "المقطع: {signs}",
    "this browser cannot speak": "لا يستطيع هذا المتصفح النطق",
    "this browser has no voices to speak with": "لا أصوات في هذا المتصفح للنطق",
    "this browser has no {lang} voice to speak with": "لا صوت {lang} في هذا المتصفح للنطق",
    "Arabic": "عربي",
    "This run has no measured accuracy on a person it never saw.": "لا دقة مقيسة لهذا النموذج على شخص لم يره.",
    "synthetic signers made by signpose (not real people)": "مؤشّرين اصطناعيين صنعهم signpose (لا أشخاص حقيقيين)",
    "recordings": "تسجيلات",
    "its test data": "بيانات اختباره",
    "signer {name}": "المؤشِّر {name}",
    "test samples": "عيّنات الاختبار",
    "Measured on {data}: {who}, never seen in training, {acc}% of {n} samples (95% interval {lo}–{hi}%). Expect less on people and cameras unlike those.":
      "قيست على {data}: {who}، لم يُرَ أثناء التدريب، {acc}٪ من {n} عيّنة (مجال ثقة 95٪: {lo}–{hi}٪). توقّع أقل مع أشخاص وكاميرات مختلفة عنها.",
    "The camera is blocked for this page. Allow it in the browser (the camera icon in the address bar, or the site settings), then press Start camera again, or recognise a video file instead (highlighted).":
      "الكاميرا محجوبة عن هذه الصفحة. اسمح بها في المتصفح (رمز الكاميرا في شريط العنوان أو إعدادات الموقع)، ثم اضغط «تشغيل الكاميرا» مجددًا، أو تعرَّف على ملف فيديو بدلًا من ذلك (المُبرَز).",
    "No camera could be opened ({reason}). Recognise a video file instead (highlighted).":
      "تعذّر فتح أي كاميرا ({reason}). تعرَّف على ملف فيديو بدلًا من ذلك (المُبرَز).",
    "none found": "لم يُعثر على أي منها",
    "no graphics acceleration here: the server does the tracking": "لا تسريع رسومي هنا: يتولّى الخادم التتبّع",
    "tracking did not start in this browser in time: the server does it": "لم يبدأ التتبّع في هذا المتصفح في الوقت المناسب: يتولّاه الخادم",
    "this browser tracked {fps} frames a second, too slow: the server does it": "تتبّع هذا المتصفح {fps} إطارًا في الثانية، وهذا بطيء: يتولّاه الخادم",
    "the model cannot run in this browser ({reason}): the server classifies": "لا يعمل النموذج في هذا المتصفح ({reason}): يصنّف الخادم",
    "record your own signs": "سجِّل إشاراتك",
    "Record your own signs": "سجِّل إشاراتك",
    "Your name": "اسمك",
    "Signs (separated by commas)": "الإشارات (مفصولة بفواصل)",
    "Takes of each": "عدد مرات كل إشارة",
    "Record": "سجِّل",
    "Stop recording": "أوقف التسجيل",
    "no takes yet": "لا تسجيلات بعد",
    "replay": "إعادة العرض",
    "delete": "حذف",
    "take {k}": "المرة {k}",
    "frames": "إطارًا",
    "names may not be empty or hold / or \\; give the signs separated by commas": "لا يجوز أن تكون الأسماء فارغة أو أن تحوي / أو \\؛ اكتب الإشارات مفصولة بفواصل",
    "every take is recorded already": "كل المرات مسجّلة سابقًا",
    "all takes recorded": "سُجّلت كل المرات",
    "{sign}: take {k} of {n}, ready in {s}": "{sign}: المرة {k} من {n}، استعد خلال {s}",
    "{sign}: take {k} of {n}, sign now": "{sign}: المرة {k} من {n}، أشِر الآن",
    "no hand was seen in this take of {sign}: taking it again": "لم تظهر أي يد في هذه المرة من {sign}: نعيدها",
    "cannot reach the server; the takes so far are kept": "تعذّر الوصول إلى الخادم؛ المرات المسجّلة محفوظة",
    "kept: {sign}, take {k} ({frames} frames, hands in {hands})": "حُفظت: {sign}، المرة {k} ({frames} إطارًا، اليدان في {hands})",
    "kept: {sign}, take {k}": "حُفظت: {sign}، المرة {k}",
    "deleted: {sample}": "حُذفت: {sample}",
    "stopped; the takes so far are kept": "توقّف؛ المرات المسجّلة محفوظة",
    "Train a model on these takes": "درِّب نموذجًا على هذه التسجيلات",
    "Epochs": "الحقب",
    "Cancel training": "ألغِ التدريب",
    "training progress": "تقدّم التدريب",
    "loss": "الخسارة",
    "training {run}: epoch {e} of {n}{loss}; {split}": "تدريب {run}: الحقبة {e} من {n}{loss}؛ {split}",
    "trained: {run} recognises now ({split})": "اكتمل التدريب: {run} يتعرّف الآن ({split})",
    "training failed: {message}": "فشل التدريب: {message}",
    "training cancelled; its run folder is kept and can be resumed": "أُلغي التدريب؛ مجلّد التشغيل محفوظ ويمكن استئنافه",
    "{frames} frames tracked, {readings} readings, {dropped} frames dropped":
      "{frames} إطارًا متتبَّعًا، {readings} قراءة، {dropped} إطارًا فائتًا",
    "server: {message}": "الخادم: {message}",
    "cannot switch: {reason}": "تعذّر التبديل: {reason}",
    "model {run}: {line}": "النموذج {run}: {line}",
    "offline use is not available: {reason}": "الاستخدام دون اتصال غير متاح: {reason}",
    "{frames} frames tracked, {readings} readings (on this device)": "{frames} إطارًا متتبَّعًا، {readings} قراءة (على هذا الجهاز)",
  };

  const CHOICE_KEY = "signpose.lang";
  let lang = "en";

  function t(english, vars = {}) {
    const text = (lang === "ar" && AR[english]) || english;
    return text.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
  }

  function choice() {
    try { return localStorage.getItem(CHOICE_KEY) || "auto"; } catch (e) { return "auto"; }
  }

  function resolve(chosen) {
    if (chosen === "en" || chosen === "ar") return chosen;
    const wanted = (navigator.languages && navigator.languages[0]) || navigator.language || "en";
    return /^ar\b/i.test(wanted) ? "ar" : "en";
  }

  const squash = (text) => text.replace(/\s+/g, " ").trim();

  // The marked text and attributes in the chosen language (their English kept on the element).
  function applyStatic(root = document) {
    for (const el of root.querySelectorAll("[data-t]")) {
      if (el.dataset.en === undefined) el.dataset.en = squash(el.textContent);
      el.textContent = t(el.dataset.en);
    }
    for (const el of root.querySelectorAll("[data-t-attr]")) {
      for (const attr of el.dataset.tAttr.split(/\s+/)) {
        const key = `en${attr.replace(/(^|-)(\w)/g, (m, d, c) => c.toUpperCase())}`;
        if (el.dataset[key] === undefined) el.dataset[key] = el.getAttribute(attr) || "";
        el.setAttribute(attr, t(el.dataset[key]));
      }
    }
  }

  const listeners = [];
  function setLanguage(chosen) {
    try { localStorage.setItem(CHOICE_KEY, chosen); } catch (e) { /* private mode: this visit only */ }
    lang = resolve(chosen);
    document.documentElement.lang = lang;
    document.documentElement.dir = lang === "ar" ? "rtl" : "ltr";
    applyStatic();
    for (const listener of listeners) listener(lang);
  }

  global.SignposeI18n = {
    t, setLanguage, choice, applyStatic,
    get lang() { return lang; },
    onChange(listener) { listeners.push(listener); },
  };
})(typeof window !== "undefined" ? window : globalThis);
