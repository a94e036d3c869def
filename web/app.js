// The Aisle search page: plain JavaScript over the JSON API (docs/api.md).
"use strict";

const $ = (id) => document.getElementById(id);
const state = { query: "", locale: "en", filters: [], searchId: null, results: [] };
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

async function search() {
  if (!state.query) return;
  const params = new URLSearchParams({ query: state.query, locale: state.locale, k: "20", facets: "true" });
  for (const filter of state.filters) params.append("filter", filter);
  $("summary").textContent = "Searching…";
  const response = await fetch("/search?" + params.toString());
  const body = await response.json();
  if (!response.ok) {
    $("summary").textContent = "Error: " + body.error.message;
    $("results").replaceChildren();
    return;
  }
  state.searchId = body.search_id || null;
  state.results = body.results;
  render(body);
}

function render(body) {
  $("summary").textContent = `${body.results.length} results for “${body.query}” · strategies ${body.strategy}` +
    (body.policy ? ` (chosen by ${body.policy})` : "");
  $("active-filters").replaceChildren(...state.filters.map((filter) =>
    el("button", { type: "button", class: "active-filter", title: "Remove filter",
                   onclick: () => { state.filters = state.filters.filter((f) => f !== filter); search(); } }, filter + " ✕")));
  $("results").replaceChildren(...body.results.map((hit) => {
    const chips = (hit.found_by || "").split("+").filter(Boolean).map((name) => el("span", { class: "chip found-by" }, name));
    const title = el("a", { href: "#", class: "title", onclick: (e) => { e.preventDefault(); feedback(hit, "click"); } }, hit.title || hit.product_id);
    const line = el("div", {}, title);
    if (hit.esci) line.append(el("span", { class: "badge esci " + hit.esci.label, title: `P(${hit.esci.label}) = ${hit.esci[hit.esci.label].toFixed(2)}` }, hit.esci.label));
    const meta = el("div", { class: "meta" }, [hit.brand, hit.price !== undefined ? "$" + Number(hit.price).toFixed(2) : null].filter(Boolean).join(" · "));
    const actions = el("div", { class: "actions" },
      el("button", { type: "button", class: "add-to-cart", onclick: () => feedback(hit, "add_to_cart") }, "Add to cart"),
      el("button", { type: "button", class: "show-related", onclick: () => related(hit) }, "Related"));
    return el("li", { class: "result", "data-product-id": hit.product_id }, line, meta, el("div", {}, ...chips), actions);
  }));
  const facets = body.facets || {};
  const groups = [];
  for (const name of ["brand", "color", "category", "locale"]) {
    const values = (facets[name] || []).slice(0, 8);
    if (values.length === 0) continue;
    groups.push(el("h3", {}, name));
    for (const value of values) {
      const filter = `${name}=${value.value}`;
      groups.push(el("button", { type: "button", class: "facet", "data-filter": filter,
                                 onclick: () => { if (!state.filters.includes(filter)) state.filters.push(filter); search(); } },
                     `${value.value} (${value.count})`));
    }
  }
  $("facets").replaceChildren(...groups);
}

async function related(hit) {
  $("related").hidden = false;
  $("related-title").textContent = hit.title || hit.product_id;
  $("related-list").replaceChildren(el("li", {}, "Loading…"));
  const response = await fetch(`/related/${encodeURIComponent(hit.product_id)}?locale=${state.locale}&k=5`);
  const body = await response.json();
  if (!response.ok) {
    $("related-list").replaceChildren(el("li", { class: "related-error" }, body.error.message));
    return;
  }
  $("related-list").replaceChildren(...body.related.map((r) =>
    el("li", { class: "related-item" }, (r.title || r.product_id) + (r.brand ? ` (${r.brand})` : ""))));
}

async function feedback(hit, type) {
  const event = { ts: new Date().toISOString(), session, query: state.query, locale: state.locale,
                  product_id: hit.product_id, type, position: hit.rank };
  if (state.searchId) event.search_id = state.searchId;
  const response = await fetch("/events", { method: "POST", headers: { "Content-Type": "application/json", "X-API-Key": $("api-key").value },
                                            body: JSON.stringify({ events: [event] }) });
  const body = await response.json();
  status(response.ok ? `${type} on ${hit.product_id} stored` : `feedback not stored: ${body.error.message}`);
}

$("search-form").addEventListener("submit", (e) => {
  e.preventDefault();
  state.query = $("query").value.trim();
  state.locale = $("locale").value;
  state.filters = [];
  search();
});
$("related-close").addEventListener("click", () => { $("related").hidden = true; });
