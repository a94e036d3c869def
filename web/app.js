// The Aisle search page: plain JavaScript over the JSON API (docs/api.md).
"use strict";

const $ = (id) => document.getElementById(id);
const state = { query: "", locale: "en", sort: "relevance", filters: [], searchId: null, results: [], nextOffset: null };
// Names of the locales the catalog may have (the menu lists the catalog's own, from /health).
const kLocaleNames = { en: "English", es: "Español", ja: "日本語", de: "Deutsch", fr: "Français", it: "Italiano",
                       pt: "Português", nl: "Nederlands", pl: "Polski", ko: "한국어", zh: "中文" };
// The page's own words in the search's language (the locale's language; English for one
// without a table). Static elements name their string in data-i18n (text),
// data-i18n-placeholder and data-i18n-aria-label; the rest is written through t().
const kStrings = {
  en: {
    search_placeholder: "Search products", language: "Language", search: "Search", filters: "Filters",
    sort_by: "Sort by", sort_relevance: "Relevance", sort_price_asc: "Price: low to high",
    sort_price_desc: "Price: high to low", sort_popularity: "Popularity", sort_newest: "Newest",
    did_you_mean_before: "Did you mean", did_you_mean_after: "?", more: "More results",
    related_products: "Related products", related_before: "Related to", related_after: "", close: "Close",
    api_key: "API key (for feedback)", searching: "Searching…", loading: "Loading…",
    error: (m) => `Error: ${m}`,
    results: (n, q) => `${n} result${n === 1 ? "" : "s"} for “${q}”`,
    no_results: (q) => `Nothing in the catalog matches “${q}”`,
    remove_filter: "Remove filter", add_to_cart: "Add to cart", added_to_cart: "Added to cart", related: "Related",
    facet_brand: "brand", facet_color: "color", facet_category: "category", facet_price: "price", facet_locale: "language",
    under: (x) => `under ${x}`, and_more: (x) => `${x} and more`,
    stored: (type, id) => `${type} on ${id} stored`,
    needs_key: "Not sent: feedback needs the API key (at the bottom of the page)",
    not_sent: (m) => `Not sent: ${m}`,
  },
  es: {
    search_placeholder: "Buscar productos", language: "Idioma", search: "Buscar", filters: "Filtros",
    sort_by: "Ordenar por", sort_relevance: "Relevancia", sort_price_asc: "Precio: de menor a mayor",
    sort_price_desc: "Precio: de mayor a menor", sort_popularity: "Popularidad", sort_newest: "Novedades",
    did_you_mean_before: "¿Quiso decir", did_you_mean_after: "?", more: "Más resultados",
    related_products: "Productos relacionados", related_before: "Relacionados con", related_after: "", close: "Cerrar",
    api_key: "Clave de API (para las valoraciones)", searching: "Buscando…", loading: "Cargando…",
    error: (m) => `Error: ${m}`,
    results: (n, q) => `${n} resultado${n === 1 ? "" : "s"} para «${q}»`,
    no_results: (q) => `Nada en el catálogo coincide con «${q}»`,
    remove_filter: "Quitar filtro", add_to_cart: "Añadir al carrito", added_to_cart: "Añadido al carrito",
    related: "Relacionados",
    facet_brand: "marca", facet_color: "color", facet_category: "categoría", facet_price: "precio", facet_locale: "idioma",
    under: (x) => `menos de ${x}`, and_more: (x) => `${x} o más`,
    stored: (type, id) => `${type} de ${id} guardado`,
    needs_key: "No enviado: las valoraciones necesitan la clave de API (al pie de la página)",
    not_sent: (m) => `No enviado: ${m}`,
  },
  ja: {
    search_placeholder: "商品を検索", language: "言語", search: "検索", filters: "絞り込み",
    sort_by: "並べ替え", sort_relevance: "関連度順", sort_price_asc: "価格の安い順",
    sort_price_desc: "価格の高い順", sort_popularity: "人気順", sort_newest: "新着順",
    did_you_mean_before: "もしかして:", did_you_mean_after: "", more: "さらに表示",
    related_products: "関連商品", related_before: "", related_after: " の関連商品", close: "閉じる",
    api_key: "API キー（フィードバック用）", searching: "検索中…", loading: "読み込み中…",
    error: (m) => `エラー: ${m}`,
    results: (n, q) => `「${q}」の検索結果 ${n} 件`,
    no_results: (q) => `「${q}」に一致する商品はありません`,
    remove_filter: "絞り込みを解除", add_to_cart: "カートに入れる", added_to_cart: "カートに追加しました",
    related: "関連商品",
    facet_brand: "ブランド", facet_color: "色", facet_category: "カテゴリー", facet_price: "価格", facet_locale: "言語",
    under: (x) => `${x}未満`, and_more: (x) => `${x}以上`,
    stored: (type, id) => `${id} の ${type} を保存しました`,
    needs_key: "送信されませんでした: フィードバックには API キー（ページ下部）が必要です",
    not_sent: (m) => `送信されませんでした: ${m}`,
  },
  de: {
    search_placeholder: "Produkte suchen", language: "Sprache", search: "Suchen", filters: "Filter",
    sort_by: "Sortieren nach", sort_relevance: "Relevanz", sort_price_asc: "Preis: aufsteigend",
    sort_price_desc: "Preis: absteigend", sort_popularity: "Beliebtheit", sort_newest: "Neueste",
    did_you_mean_before: "Meinten Sie", did_you_mean_after: "?", more: "Weitere Ergebnisse",
    related_products: "Passende Produkte", related_before: "Passend zu", related_after: "", close: "Schließen",
    api_key: "API-Schlüssel (für Feedback)", searching: "Suche läuft…", loading: "Wird geladen…",
    error: (m) => `Fehler: ${m}`,
    results: (n, q) => `${n} Ergebnis${n === 1 ? "" : "se"} für „${q}“`,
    no_results: (q) => `Nichts im Katalog passt zu „${q}“`,
    remove_filter: "Filter entfernen", add_to_cart: "In den Warenkorb", added_to_cart: "Im Warenkorb",
    related: "Passendes",
    facet_brand: "Marke", facet_color: "Farbe", facet_category: "Kategorie", facet_price: "Preis", facet_locale: "Sprache",
    under: (x) => `unter ${x}`, and_more: (x) => `ab ${x}`,
    stored: (type, id) => `${type} zu ${id} gespeichert`,
    needs_key: "Nicht gesendet: Feedback braucht den API-Schlüssel (unten auf der Seite)",
    not_sent: (m) => `Nicht gesendet: ${m}`,
  },
  fr: {
    search_placeholder: "Rechercher des produits", language: "Langue", search: "Rechercher", filters: "Filtres",
    sort_by: "Trier par", sort_relevance: "Pertinence", sort_price_asc: "Prix croissant",
    sort_price_desc: "Prix décroissant", sort_popularity: "Popularité", sort_newest: "Nouveautés",
    did_you_mean_before: "Vouliez-vous dire", did_you_mean_after: " ?", more: "Plus de résultats",
    related_products: "Produits associés", related_before: "Associés à", related_after: "", close: "Fermer",
    api_key: "Clé d'API (pour les retours)", searching: "Recherche…", loading: "Chargement…",
    error: (m) => `Erreur : ${m}`,
    results: (n, q) => `${n} résultat${n > 1 ? "s" : ""} pour « ${q} »`,
    no_results: (q) => `Rien dans le catalogue ne correspond à « ${q} »`,
    remove_filter: "Retirer le filtre", add_to_cart: "Ajouter au panier", added_to_cart: "Ajouté au panier",
    related: "Associés",
    facet_brand: "marque", facet_color: "couleur", facet_category: "catégorie", facet_price: "prix", facet_locale: "langue",
    under: (x) => `moins de ${x}`, and_more: (x) => `${x} et plus`,
    stored: (type, id) => `${type} sur ${id} enregistré`,
    needs_key: "Non envoyé : les retours demandent la clé d'API (en bas de la page)",
    not_sent: (m) => `Non envoyé : ${m}`,
  },
};

let uiLocale = "en";
function t(key, ...args) {
  const strings = kStrings[uiLocale.split("-")[0]] || kStrings.en;
  const value = key in strings ? strings[key] : kStrings.en[key];
  return typeof value === "function" ? value(...args) : value;
}

// The static words of the page, and its language for screen readers and fonts.
function localize(locale = state.locale) {
  uiLocale = locale || "en";
  document.documentElement.lang = uiLocale;
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of document.querySelectorAll("[data-i18n-placeholder]")) node.placeholder = t(node.dataset.i18nPlaceholder);
  for (const node of document.querySelectorAll("[data-i18n-aria-label]")) node.setAttribute("aria-label", t(node.dataset.i18nAriaLabel));
}

// The currency of each locale's prices: /health's "currencies" (the data directory's
// aisle.toml, else the language's usual one); a search reply's "currency" for its locale.
const currencies = {};

function price(value, locale) {
  try {
    return new Intl.NumberFormat(locale || "en", { style: "currency", currency: currencies[locale] || "USD" }).format(value);
  } catch {
    return Number(value).toFixed(2);
  }
}
const session = (() => {
  let id = sessionStorage.getItem("aisle-session");
  if (!id) {
    id = "web-" + Math.random().toString(36).slice(2, 12);
    sessionStorage.setItem("aisle-session", id);
  }
  return id;
})();

$("api-key").value = localStorage.getItem("aisle-api-key") || "";
$("api-key").addEventListener("change", () => localStorage.setItem("aisle-api-key", $("api-key").value));

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function status(text) { $("status").textContent = text; }

// The page's address holds the search (query, locale, sort, filters): it can be bookmarked and
// shared, and Back/Forward walk through earlier searches.
function address() {
  const params = new URLSearchParams({ query: state.query, locale: state.locale });
  if (state.sort !== "relevance") params.set("sort", state.sort);
  for (const filter of state.filters) params.append("filter", filter);
  return "?" + params.toString();
}

function restore(search) {
  const params = new URLSearchParams(search);
  state.query = params.get("query") || "";
  state.locale = params.get("locale") || "en";
  state.sort = params.get("sort") || "relevance";
  state.filters = params.getAll("filter");
  $("query").value = state.query;
  $("locale").value = state.locale;
  $("sort").value = state.sort;
  localize();
}

async function search({ remember = true, more = false } = {}) {
  if (!state.query) return;
  const params = new URLSearchParams({ query: state.query, locale: state.locale, k: "20", facets: "true", sort: state.sort });
  for (const filter of state.filters) params.append("filter", filter);
  if (more) params.set("offset", String(state.nextOffset));
  if (remember && !more && location.search !== address()) history.pushState(null, "", address());
  if (!more) {
    $("summary").textContent = t("searching");
    $("related").hidden = true;  // it showed a product of the previous results
    $("related-list").replaceChildren();
  }
  const response = await fetch("/search?" + params.toString());
  const body = await response.json();
  if (!response.ok) {
    $("summary").textContent = t("error", body.error.message);
    $("results").replaceChildren();
    $("more").hidden = true;
    return;
  }
  if (body.currency) currencies[state.locale] = body.currency;
  if (!more) state.searchId = body.search_id || null;
  state.results = more ? state.results.concat(body.results) : body.results;
  state.nextOffset = body.next_offset ?? null;
  render(body, more);
}

function render(body, more) {
  $("summary").textContent = body.notice && state.results.length === 0
    ? t("no_results", body.query)
    : t("results", body.total, body.query);
  if (!more) {
    $("did-you-mean").hidden = !body.did_you_mean;
    if (body.did_you_mean) {
      $("did-you-mean-link").textContent = body.did_you_mean;
      $("did-you-mean-link").href = "?" + new URLSearchParams({ query: body.did_you_mean, locale: state.locale }).toString();
    }
  }
  // How the results were found is for the curious, not the headline.
  $("summary").title = `strategies ${body.strategy}` + (body.policy ? ` (chosen by ${body.policy})` : "");
  $("more").hidden = state.nextOffset === null;
  $("active-filters").replaceChildren(...state.filters.map((filter) =>
    el("button", { type: "button", class: "active-filter", title: t("remove_filter"),
                   onclick: () => { state.filters = state.filters.filter((f) => f !== filter); search(); } }, filter + " ✕")));
  const items = body.results.map((hit) => {
    const chips = (hit.found_by || "").split("+").filter(Boolean).map((name) => el("span", { class: "chip found-by" }, name));
    const title = el("a", { href: "#", class: "title", onclick: (e) => { e.preventDefault(); feedback(hit, "click"); } });
    // The server escapes the text and marks the query's words (highlight_html): safe as HTML.
    if (hit.highlight && hit.highlight.title) title.innerHTML = hit.highlight.title;
    else title.textContent = hit.title || hit.product_id;
    const line = el("div", {}, title);
    if (hit.esci) line.append(el("span", { class: "badge esci " + hit.esci.label, title: `P(${hit.esci.label}) = ${hit.esci[hit.esci.label].toFixed(2)}` }, hit.esci.label));
    const meta = el("div", { class: "meta" }, [hit.brand, hit.price !== undefined ? price(hit.price, hit.locale || state.locale) : null].filter(Boolean).join(" · "));
    const actions = el("div", { class: "actions" },
      el("button", { type: "button", class: "add-to-cart", onclick: () => feedback(hit, "add_to_cart") }, t("add_to_cart")),
      el("button", { type: "button", class: "show-related", onclick: () => related(hit) }, t("related")));
    const snippet = el("p", { class: "snippet" });
    if (hit.highlight && hit.highlight.description) snippet.innerHTML = hit.highlight.description;
    const body = el("div", { class: "result-body" }, line, meta, snippet, el("div", {}, ...chips), actions);
    const parts = hit.image ? [el("img", { class: "thumb", src: hit.image, alt: "", loading: "lazy" }), body] : [body];
    return el("li", { class: "result" + (hit.image ? " with-image" : ""), "data-product-id": hit.product_id }, ...parts);
  });
  if (more) $("results").append(...items);
  else $("results").replaceChildren(...items);
  if (more) return;  // the facets describe the whole result set, already shown
  const facets = body.facets || {};
  const groups = [];
  // The listing's own facets, then the attributes the data directory declares (aisle.toml).
  const own = ["brand", "color", "category", "price", "locale"];
  for (const name of own.concat(Object.keys(facets).filter((key) => !own.includes(key)).sort())) {
    const values = (facets[name] || []).slice(0, 8);
    if (values.length === 0) continue;
    groups.push(el("h3", {}, own.includes(name) ? t("facet_" + name) : name));
    for (const value of values) {
      const [filter, label] = name === "price" ? priceFacet(value.value)
        : [`${name}=${value.value}`, name === "locale" ? kLocaleNames[value.value.split("-")[0]] || value.value : value.value];
      groups.push(el("button", { type: "button", class: "facet", "data-filter": filter,
                                 onclick: () => { if (!state.filters.includes(filter)) state.filters.push(filter); search(); } },
                     `${label} (${value.count})`));
    }
  }
  $("facets").replaceChildren(...groups);
}

// A price bucket ("<10", "25-50", "1000+") as a filter and a label in the locale's currency.
function priceFacet(bucket) {
  const whole = (value) => price(value, state.locale).replace(/[.,]00(?=\D*$)/, "");
  let match;
  // A bucket holds its lower bound, not its upper one: "..<" leaves the upper bound out.
  if ((match = bucket.match(/^<([\d.]+)$/))) return [`price=..<${match[1]}`, t("under", whole(match[1]))];
  if ((match = bucket.match(/^([\d.]+)\+$/))) return [`price=${match[1]}..`, t("and_more", whole(match[1]))];
  if ((match = bucket.match(/^([\d.]+)-([\d.]+)$/))) return [`price=${match[1]}..<${match[2]}`, `${whole(match[1])} – ${whole(match[2])}`];
  return [`price=${bucket}`, bucket];
}

async function related(hit) {
  $("related").hidden = false;
  $("related-title").textContent = hit.title || hit.product_id;
  $("related-list").replaceChildren(el("li", {}, t("loading")));
  const response = await fetch(`/related/${encodeURIComponent(hit.product_id)}?locale=${state.locale}&k=5`);
  const body = await response.json();
  if (!response.ok) {
    $("related-list").replaceChildren(el("li", { class: "related-error" }, body.error.message));
    return;
  }
  // Each related product opens as a search for its title (the page has no product view).
  $("related-list").replaceChildren(...body.related.map((r) => {
    const open = el("a", { href: "?" + new URLSearchParams({ query: r.title || r.product_id, locale: state.locale }).toString(),
                           class: "related-link",
                           onclick: (e) => {
                             e.preventDefault();
                             state.query = r.title || r.product_id;
                             state.filters = [];
                             $("query").value = state.query;
                             search();
                           } }, r.title || r.product_id);
    const meta = [r.brand, r.price !== undefined ? price(r.price, state.locale) : null].filter(Boolean).join(" · ");
    const item = el("li", { class: "related-item" }, open, meta ? el("div", { class: "meta" }, meta) : "");
    if (r.image) item.prepend(el("img", { class: "thumb", src: r.image, alt: "", loading: "lazy" }));
    return item;
  }));
}

async function feedback(hit, type) {
  const event = { ts: new Date().toISOString(), session, query: state.query, locale: state.locale,
                  product_id: hit.product_id, type, position: hit.rank };
  if (state.searchId) event.search_id = state.searchId;
  const response = await fetch("/events", { method: "POST", headers: { "Content-Type": "application/json", "X-API-Key": $("api-key").value },
                                            body: JSON.stringify({ events: [event] }) });
  const body = await response.json().catch(() => ({ error: { message: `HTTP ${response.status}` } }));
  const text = response.ok ? t("stored", type, hit.product_id)
    : response.status === 401 || response.status === 403
      ? t("needs_key")
      : t("not_sent", body.error.message);
  status(text);
  // The outcome shows where the shopper acted: under the result's buttons.
  const item = document.querySelector(`#results li.result[data-product-id="${CSS.escape(hit.product_id)}"] .result-body`);
  if (item) {
    let note = item.querySelector(".note");
    if (!note) item.append(note = el("p", { class: "note", role: "status" }));
    note.textContent = response.ok ? (type === "add_to_cart" ? t("added_to_cart") : "") : text;
    note.classList.toggle("error", !response.ok);
    if (!response.ok && (response.status === 401 || response.status === 403)) $("api-key").focus();
  }
}

$("search-form").addEventListener("submit", (e) => {
  e.preventDefault();
  state.query = $("query").value.trim();
  state.locale = $("locale").value;
  state.sort = $("sort").value;
  state.filters = [];
  localize();
  search();
});
// The page speaks the language chosen, before the next search too.
$("locale").addEventListener("change", () => localize($("locale").value));
// Autocomplete: the shoppers' queries and product titles that start with what is typed
// (GET /suggest), offered by the search box's list; the newest keystroke wins.
let suggestTimer = null, suggestSeq = 0;
$("query").addEventListener("input", () => {
  clearTimeout(suggestTimer);
  const prefix = $("query").value.trim();
  if (!prefix) { $("suggestions").replaceChildren(); return; }
  suggestTimer = setTimeout(async () => {
    const seq = ++suggestSeq;
    try {
      const response = await fetch("/suggest?" + new URLSearchParams({ prefix, locale: $("locale").value, k: "8" }).toString());
      if (!response.ok || seq !== suggestSeq) return;
      const body = await response.json();
      const texts = [...body.queries.map((q) => q.text), ...body.products.map((p) => p.title)];
      $("suggestions").replaceChildren(...[...new Set(texts)].map((text) => el("option", { value: text })));
    } catch {
      // No suggestions: the search box still works.
    }
  }, 80);
});
$("sort").addEventListener("change", () => {
  state.sort = $("sort").value;
  if (state.query) search();
});
$("did-you-mean-link").addEventListener("click", (e) => {
  e.preventDefault();
  state.query = $("did-you-mean-link").textContent;
  state.filters = [];
  $("query").value = state.query;
  search();
});
$("related-close").addEventListener("click", () => { $("related").hidden = true; });
$("more").addEventListener("click", () => search({ more: true }));
window.addEventListener("popstate", () => {
  restore(location.search);
  if (state.query) search({ remember: false });
  else { $("results").replaceChildren(); $("summary").textContent = ""; $("facets").replaceChildren(); $("more").hidden = true; }
});

// The language menu lists the catalog's locales; then a search in the address runs.
(async () => {
  try {
    const health = await (await fetch("/health")).json();
    Object.assign(currencies, health.currencies || {});
    if (Array.isArray(health.locales) && health.locales.length > 0) {
      $("locale").replaceChildren(...health.locales.map((code) => el("option", { value: code }, kLocaleNames[code.split("-")[0]] || code)));
    }
  } catch {
    // The static menu stays.
  }
  restore(location.search);
  if (state.query) search({ remember: false });
})();
