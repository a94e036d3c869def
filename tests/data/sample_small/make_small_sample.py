#!/usr/bin/env python3
"""Writes the small test fixture under tests/data/sample_small/: 280 products in English,
Spanish and Japanese, ESCI-labelled queries, and feedback events, for the CLI and browser tests
that need a tiny catalog. (The demo's teaching sample is scripts/make_sample.py.) Everything
here is invented by us (brands included); the output is deterministic (fixed seed).

    python3 tests/data/sample_small/make_small_sample.py tests/data/sample_small
"""
import csv, json, random, sys, os

OUT = sys.argv[1] if len(sys.argv) > 1 else "data/sample"
rng = random.Random(20261122)

# type key: (en, es, ja), category path (en, es, ja), features (en, es, ja)
TYPES = {
    "running_shoes": (("running shoes", "zapatillas para correr", "ランニングシューズ"),
                      (["Shoes", "Running"], ["Calzado", "Running"], ["シューズ", "ランニング"]),
                      ("breathable mesh upper and cushioned sole", "malla transpirable y suela amortiguada", "通気性メッシュとクッションソール")),
    "hiking_boots": (("hiking boots", "botas de montaña", "登山靴"),
                     (["Shoes", "Hiking"], ["Calzado", "Montaña"], ["シューズ", "登山"]),
                     ("waterproof leather and grippy outsole", "piel impermeable y suela de agarre", "防水レザーとグリップソール")),
    "socks": (("running socks", "calcetines deportivos", "スポーツソックス"),
              (["Clothing", "Socks"], ["Ropa", "Calcetines"], ["衣類", "靴下"]),
              ("moisture-wicking knit, pack of 3", "tejido que absorbe la humedad, pack de 3", "吸汗速乾ニット 3足組")),
    "insoles": (("insoles", "plantillas", "インソール"),
                (["Shoes", "Accessories"], ["Calzado", "Accesorios"], ["シューズ", "アクセサリー"]),
                ("arch support foam, cut to fit", "espuma con soporte de arco, recortable", "土踏まずサポート カット可能")),
    "smartphone": (("smartphone", "teléfono inteligente", "スマートフォン"),
                   (["Electronics", "Phones"], ["Electrónica", "Teléfonos"], ["家電", "スマートフォン"]),
                   ("6.1 inch OLED screen, 128 GB", "pantalla OLED de 6,1 pulgadas, 128 GB", "6.1インチ有機EL 128GB")),
    "phone_case": (("phone case", "funda para teléfono", "スマホケース"),
                   (["Electronics", "Phone Accessories"], ["Electrónica", "Accesorios de teléfono"], ["家電", "スマホアクセサリー"]),
                   ("shockproof silicone with raised edges", "silicona antigolpes con bordes elevados", "耐衝撃シリコン 縁高設計")),
    "screen_protector": (("screen protector", "protector de pantalla", "画面保護フィルム"),
                         (["Electronics", "Phone Accessories"], ["Electrónica", "Accesorios de teléfono"], ["家電", "スマホアクセサリー"]),
                         ("tempered glass, 9H hardness, 2 pack", "vidrio templado, dureza 9H, pack de 2", "強化ガラス 硬度9H 2枚入り")),
    "earbuds": (("wireless earbuds", "auriculares inalámbricos", "ワイヤレスイヤホン"),
                (["Electronics", "Audio"], ["Electrónica", "Audio"], ["家電", "オーディオ"]),
                ("noise cancelling, 24 h battery with case", "cancelación de ruido, 24 h de batería con estuche", "ノイズキャンセリング ケース込み24時間再生")),
    "headphones": (("headphones", "auriculares de diadema", "ヘッドホン"),
                   (["Electronics", "Audio"], ["Electrónica", "Audio"], ["家電", "オーディオ"]),
                   ("over-ear, foldable, 40 h battery", "circumaurales, plegables, 40 h de batería", "オーバーイヤー 折りたたみ 40時間再生")),
    "laptop": (("laptop", "portátil", "ノートパソコン"),
               (["Electronics", "Computers"], ["Electrónica", "Ordenadores"], ["家電", "パソコン"]),
               ("14 inch display, 16 GB RAM, 512 GB SSD", "pantalla de 14 pulgadas, 16 GB de RAM, SSD de 512 GB", "14インチ 16GBメモリ 512GB SSD")),
    "laptop_sleeve": (("laptop sleeve", "funda para portátil", "ノートパソコンケース"),
                      (["Electronics", "Computer Accessories"], ["Electrónica", "Accesorios de ordenador"], ["家電", "パソコンアクセサリー"]),
                      ("padded neoprene for 13-14 inch laptops", "neopreno acolchado para portátiles de 13-14 pulgadas", "13-14インチ対応 クッション性ネオプレン")),
    "mouse": (("wireless mouse", "ratón inalámbrico", "ワイヤレスマウス"),
              (["Electronics", "Computer Accessories"], ["Electrónica", "Accesorios de ordenador"], ["家電", "パソコンアクセサリー"]),
              ("silent clicks, USB-C receiver", "clics silenciosos, receptor USB-C", "静音クリック USB-Cレシーバー")),
    "coffee_maker": (("coffee maker", "cafetera", "コーヒーメーカー"),
                     (["Kitchen", "Coffee"], ["Cocina", "Café"], ["キッチン", "コーヒー"]),
                     ("12 cup drip with timer and glass carafe", "de goteo para 12 tazas con temporizador y jarra de vidrio", "12杯分 ドリップ式 タイマー ガラスポット")),
    "coffee_filters": (("coffee filters", "filtros de café", "コーヒーフィルター"),
                       (["Kitchen", "Coffee"], ["Cocina", "Café"], ["キッチン", "コーヒー"]),
                       ("unbleached paper, size 4, 200 count", "papel sin blanquear, tamaño 4, 200 unidades", "無漂白 4号 200枚")),
    "espresso_machine": (("espresso machine", "máquina de espresso", "エスプレッソマシン"),
                         (["Kitchen", "Coffee"], ["Cocina", "Café"], ["キッチン", "コーヒー"]),
                         ("15 bar pump with milk frother", "bomba de 15 bares con espumador de leche", "15気圧ポンプ ミルクフォーマー付き")),
    "backpack": (("backpack", "mochila", "リュックサック"),
                 (["Bags", "Backpacks"], ["Bolsos", "Mochilas"], ["バッグ", "リュック"]),
                 ("25 liter, water resistant, laptop pocket", "25 litros, resistente al agua, bolsillo para portátil", "25リットル 撥水 PCポケット付き")),
    "water_bottle": (("water bottle", "botella de agua", "水筒"),
                     (["Sports", "Hydration"], ["Deportes", "Hidratación"], ["スポーツ", "水分補給"]),
                     ("insulated stainless steel, 750 ml", "acero inoxidable aislado, 750 ml", "真空断熱ステンレス 750ml")),
    "yoga_mat": (("yoga mat", "esterilla de yoga", "ヨガマット"),
                 (["Sports", "Yoga"], ["Deportes", "Yoga"], ["スポーツ", "ヨガ"]),
                 ("6 mm non-slip with carrying strap", "6 mm antideslizante con correa de transporte", "厚さ6mm 滑り止め ストラップ付き")),
    "t_shirt": (("t-shirt", "camiseta", "Tシャツ"),
                (["Clothing", "Tops"], ["Ropa", "Camisetas"], ["衣類", "トップス"]),
                ("organic cotton, regular fit", "algodón orgánico, corte regular", "オーガニックコットン レギュラーフィット")),
    "rain_jacket": (("rain jacket", "chaqueta impermeable", "レインジャケット"),
                    (["Clothing", "Outerwear"], ["Ropa", "Abrigos"], ["衣類", "アウター"]),
                    ("packable, sealed seams, adjustable hood", "plegable, costuras selladas, capucha ajustable", "パッカブル シームシーリング フード調節可")),
}
SUBSTITUTES = {"running_shoes": ["hiking_boots"], "hiking_boots": ["running_shoes"],
               "earbuds": ["headphones"], "headphones": ["earbuds"],
               "coffee_maker": ["espresso_machine"], "espresso_machine": ["coffee_maker"],
               "backpack": [], "rain_jacket": ["t_shirt"], "t_shirt": ["rain_jacket"]}
COMPLEMENTS = {"running_shoes": ["socks", "insoles"], "hiking_boots": ["socks", "insoles", "backpack"],
               "smartphone": ["phone_case", "screen_protector", "earbuds"], "laptop": ["laptop_sleeve", "mouse", "backpack"],
               "coffee_maker": ["coffee_filters"], "espresso_machine": ["coffee_filters"],
               "backpack": ["water_bottle"], "yoga_mat": ["water_bottle", "t_shirt"], "earbuds": ["smartphone"],
               "headphones": ["smartphone"], "phone_case": ["smartphone"], "socks": ["running_shoes"]}
BRANDS = {"running_shoes": ["Nimbus", "Stridex"], "hiking_boots": ["Trailpeak", "Stridex"], "socks": ["Nimbus", "Trailpeak"],
          "insoles": ["Stridex", "Nimbus"], "smartphone": ["Voltia", "Orbita"], "phone_case": ["Voltia", "Shellwise"],
          "screen_protector": ["Shellwise", "Orbita"], "earbuds": ["Sonora", "Voltia"], "headphones": ["Sonora", "Orbita"],
          "laptop": ["Orbita", "Voltia"], "laptop_sleeve": ["Shellwise", "Packwell"], "mouse": ["Orbita", "Sonora"],
          "coffee_maker": ["Kaffeo", "Brewline"], "coffee_filters": ["Kaffeo", "Brewline"], "espresso_machine": ["Kaffeo", "Brewline"],
          "backpack": ["Packwell", "Trailpeak"], "water_bottle": ["Packwell", "Trailpeak"], "yoga_mat": ["Lotusa", "Nimbus"],
          "t_shirt": ["Lotusa", "Nimbus"], "rain_jacket": ["Trailpeak", "Lotusa"]}
COLORS = {"black": ("black", "negro", "黒"), "white": ("white", "blanco", "白"), "red": ("red", "rojo", "赤"),
          "blue": ("blue", "azul", "青"), "green": ("green", "verde", "緑"), "gray": ("gray", "gris", "グレー")}
LOCALES = ["en", "es", "ja"]
L = {loc: i for i, loc in enumerate(LOCALES)}
MODELS = ["One", "Pro", "Lite", "Max", "Air", "Flex"]
BASE_PRICE = {"running_shoes": 89, "hiking_boots": 129, "socks": 14, "insoles": 24, "smartphone": 599, "phone_case": 19,
              "screen_protector": 12, "earbuds": 129, "headphones": 179, "laptop": 999, "laptop_sleeve": 29, "mouse": 25,
              "coffee_maker": 69, "coffee_filters": 6, "espresso_machine": 249, "backpack": 59, "water_bottle": 24,
              "yoga_mat": 35, "t_shirt": 19, "rain_jacket": 99}

def title(loc, brand, model, kind, color):
    name = TYPES[kind][0][L[loc]]
    col = COLORS[color][L[loc]]
    if loc == "en":
        return f"{brand} {model} {name.title() if kind != 't_shirt' else 'T-Shirt'} - {col.title()}"
    if loc == "es":
        return f"{name[0].upper() + name[1:]} {brand} {model} {col}"
    return f"{brand} {model} {name} {col}"

def description(loc, brand, kind, color):
    feat = TYPES[kind][2][L[loc]]
    name = TYPES[kind][0][L[loc]]
    col = COLORS[color][L[loc]]
    if loc == "en":
        return f"The {brand} {name} in {col}: {feat}. Backed by a two-year warranty."
    if loc == "es":
        return f"{name[0].upper() + name[1:]} de {brand} en color {col}: {feat}. Garantía de dos años."
    return f"{brand}の{name}（{col}）。{feat}。2年保証付き。"

products = []   # dicts, also used to label queries
def add_product(loc, pid, kind, brand, model, color, group):
    price = round(BASE_PRICE[kind] * rng.uniform(0.8, 1.3) * (150 if loc == "ja" else 1), 2 if loc != "ja" else 0)
    p = {"id": pid, "locale": loc, "title": title(loc, brand, model, kind, color),
         "description": description(loc, brand, kind, color),
         "bullets": [TYPES[kind][2][L[loc]]], "brand": brand, "color": COLORS[color][L[loc]],
         "category": TYPES[kind][1][L[loc]],
         "attributes": {"model": model, "material": rng.choice(["recycled", "standard"])},
         "price": price, "popularity": round(rng.lognormvariate(3, 1), 1)}
    if group:
        p["group"] = group
    products.append((p, kind, brand, color))

n = 0
for kind in TYPES:
    combos = [(b, m, c) for b in BRANDS[kind] for m in MODELS[:3] for c in COLORS]
    rng.shuffle(combos)
    en_combos = combos[:6]
    for i, (brand, model, color) in enumerate(en_combos):
        n += 1
        group = f"G{n:04d}" if i < 3 else None
        add_product("en", f"EN{n:04d}", kind, brand, model, color, group)
        if i < 3:  # cross-listed: the same product in es and ja shares the group
            add_product("es", f"ES{n:04d}", kind, brand, model, color, group)
            add_product("ja", f"JA{n:04d}", kind, brand, model, color, group)
    for loc in ["es", "ja"]:  # one listing per locale found only there
        brand, model, color = combos[6 + L[loc]]
        n += 1
        add_product(loc, f"{loc.upper()}{n:04d}", kind, brand, model, color, None)

# Queries: (locale, kind, color or None, brand or None)
query_specs = []
kinds = list(TYPES)
for loc, count in [("en", 30), ("es", 16), ("ja", 16)]:
    picks = rng.sample(kinds, len(kinds))
    for i in range(count):
        kind = picks[i % len(picks)]
        shape = i % 3
        color = rng.choice(list(COLORS)) if shape == 1 else None
        brand = rng.choice(BRANDS[kind]) if shape == 2 else None
        query_specs.append((loc, kind, color, brand))

def query_text(loc, kind, color, brand):
    name = TYPES[kind][0][L[loc]]
    if loc == "en":
        parts = ([brand] if brand else []) + ([COLORS[color][0]] if color else []) + [name]
        return " ".join(parts).lower()
    if loc == "es":
        text = name + (" " + COLORS[color][1] if color else "") + (" " + brand if brand else "")
        return text.lower()
    return (brand + " " if brand else "") + name + (" " + COLORS[color][2] if color else "")

def label(spec, prod):
    loc, kind, color, brand = spec
    p, pkind, pbrand, pcolor = prod
    if pkind == kind:
        ok = (color is None or color == pcolor) and (brand is None or brand == pbrand)
        return "E" if ok else "S"
    if pkind in SUBSTITUTES.get(kind, []):
        return "S"
    if pkind in COMPLEMENTS.get(kind, []):
        return "C"
    return "I"

os.makedirs(OUT, exist_ok=True)
with open(os.path.join(OUT, "catalog.jsonl"), "w", encoding="utf-8") as f:
    for p, *_ in products:
        f.write(json.dumps(p, ensure_ascii=False) + "\n")

judgments = []
seen = set()
example = 0
for qi, spec in enumerate(query_specs):
    loc = spec[0]
    text = query_text(*spec)
    if (loc, text) in seen:
        continue
    seen.add((loc, text))
    qid = f"Q{qi + 1:03d}"
    split = "test" if qi % 5 == 4 else "train"
    local = [pr for pr in products if pr[0]["locale"] == loc]
    labelled = [(pr, label(spec, pr)) for pr in local]
    chosen = [x for x in labelled if x[1] != "I"]
    irrelevant = [x for x in labelled if x[1] == "I"]
    chosen += rng.sample(irrelevant, min(4, len(irrelevant)))
    for pr, lab in chosen:
        example += 1
        judgments.append({"example_id": example, "query_id": qid, "query": text, "product_id": pr[0]["id"],
                          "product_locale": loc, "esci_label": lab, "split": split})

with open(os.path.join(OUT, "judgments.csv"), "w", encoding="utf-8", newline="") as f:
    w = csv.DictWriter(f, fieldnames=["example_id", "query_id", "query", "product_id", "product_locale", "esci_label", "split"])
    w.writeheader()
    w.writerows(judgments)

# Feedback: sessions that issue a judged query, see a ranked list and act on it.
events = []
by_query = {}
for j in judgments:
    by_query.setdefault((j["query_id"], j["query"], j["product_locale"]), []).append(j)
ts = 1793577600  # 2026-11-01T00:00:00Z
for s in range(90):
    (qid, text, loc), rows = rng.choice(sorted(by_query.items()))
    shown = rng.sample(rows, min(6, len(rows)))
    ts += rng.randint(30, 900)
    session = f"s{s + 1:03d}"
    def ev(offset, row, kind, pos):
        events.append({"ts": f"{__import__('datetime').datetime.utcfromtimestamp(ts + offset).isoformat()}Z",
                       "session": session, "query": text, "locale": loc, "product_id": row["product_id"],
                       "type": kind, "position": pos})
    for pos, row in enumerate(shown, 1):
        ev(0, row, "impression", pos)
    for pos, row in enumerate(shown, 1):
        p_click = {"E": 0.55, "S": 0.2, "C": 0.12, "I": 0.02}[row["esci_label"]] / (1 + 0.3 * (pos - 1))
        if rng.random() < p_click:
            ev(5 + pos, row, "click", pos)
            if row["esci_label"] == "E" and rng.random() < 0.4:
                ev(40 + pos, row, "add_to_cart", pos)
                if rng.random() < 0.6:
                    ev(120 + pos, row, "purchase", pos)

with open(os.path.join(OUT, "events.jsonl"), "w", encoding="utf-8") as f:
    for e in events:
        f.write(json.dumps(e, ensure_ascii=False) + "\n")

# The related-products graph ("bought together", directed): a main product points at
# accessories of the same locale (phone -> case, never case -> phone); substitutes point at
# each other both ways, more sparsely. Its own random stream, so the files above stay as they are.
grng = random.Random(8)
ACCESSORIES = {"smartphone": ["phone_case", "screen_protector", "earbuds"], "laptop": ["laptop_sleeve", "mouse"],
               "running_shoes": ["socks", "insoles"], "hiking_boots": ["socks", "insoles", "backpack"],
               "coffee_maker": ["coffee_filters"], "espresso_machine": ["coffee_filters"],
               "yoga_mat": ["water_bottle"], "backpack": ["water_bottle"]}
by_kind = {}
for p, kind, brand, color in products:
    by_kind.setdefault((p["locale"], kind), []).append(p["id"])
edges = []
for p, kind, brand, color in products:
    for accessory in ACCESSORIES.get(kind, []):
        for target in grng.sample(by_kind[(p["locale"], accessory)], 2):
            edges.append((p["id"], target))
    for other in SUBSTITUTES.get(kind, []):
        if grng.random() < 0.5:
            edges.append((p["id"], grng.choice(by_kind[(p["locale"], other)])))
with open(os.path.join(OUT, "related.csv"), "w", encoding="utf-8", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["source", "target"])
    w.writerows(edges)

print(f"{len(products)} products, {len(by_query)} queries, {len(judgments)} judgments, {len(events)} events, {len(edges)} related edges")
