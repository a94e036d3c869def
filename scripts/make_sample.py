#!/usr/bin/env python3
"""Writes the bundled teaching sample: a seeded, invented catalog in English, Spanish and
Japanese that is large enough for every learned layer to be trained and validated on.

    python3 scripts/make_sample.py OUT_DIR [--seed 20261207]

Writes into OUT_DIR:
  catalog.jsonl    ~1,900 products: 20 product types, 3 brands each, 6 models, 6 colours, sizes
                   for shoes and clothing, prices per locale, popularity; about 60 % of the
                   English products are cross-listed in es and ja (shared "group"), and each
                   locale has listings of its own.
  judgments.csv    ESCI labels for ~680 queries (split train / test by query, 20 % test) that
                   follow the products' relations: exact (the type with every slot the query
                   names), substitute (the type with another colour / brand / size, or a
                   substitute type), complement (an accessory type), irrelevant. Query shapes:
                   head (the type), colour, brand, brand + colour, size, the words shoppers use
                   that the titles do not (aliases: "rain coat"), misspellings, and queries the
                   catalog cannot answer (tent, sofa, ...), labelled irrelevant throughout.
                   Every exact product of a query is judged (up to 40), with up to 12
                   substitutes, 8 complements and 8 irrelevant products.
  events.jsonl     a simulated shopper: sessions over the train queries (Zipf), a noisy ranked
                   list of 10, position-biased examination, clicks, carts and purchases by label.
  related.csv      the directed "bought together" graph (phone -> case, never case -> phone).
Everything is invented (brands included) and deterministic for a seed.
"""
import argparse, csv, datetime, json, math, os, random

parser = argparse.ArgumentParser()
parser.add_argument("out")
parser.add_argument("--seed", type=int, default=20261207)
args = parser.parse_args()
OUT = args.out
rng = random.Random(args.seed)

LOCALES = ["en", "es", "ja"]
L = {loc: i for i, loc in enumerate(LOCALES)}

# type: (names en/es/ja), (category paths), (features), extra brand
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
                    ("waterproof and packable, sealed seams, adjustable hood", "impermeable y plegable, costuras selladas, capucha ajustable", "防水 パッカブル シームシーリング フード調節可")),
}
SUBSTITUTES = {"running_shoes": ["hiking_boots"], "hiking_boots": ["running_shoes"],
               "earbuds": ["headphones"], "headphones": ["earbuds"],
               "coffee_maker": ["espresso_machine"], "espresso_machine": ["coffee_maker"],
               "rain_jacket": ["t_shirt"], "t_shirt": ["rain_jacket"]}
COMPLEMENTS = {"running_shoes": ["socks", "insoles"], "hiking_boots": ["socks", "insoles", "backpack"],
               "smartphone": ["phone_case", "screen_protector", "earbuds"], "laptop": ["laptop_sleeve", "mouse", "backpack"],
               "coffee_maker": ["coffee_filters"], "espresso_machine": ["coffee_filters"],
               "backpack": ["water_bottle"], "yoga_mat": ["water_bottle", "t_shirt"], "earbuds": ["smartphone"],
               "headphones": ["smartphone"], "phone_case": ["smartphone"], "screen_protector": ["smartphone"],
               "socks": ["running_shoes"], "insoles": ["running_shoes", "hiking_boots"],
               "laptop_sleeve": ["laptop"], "mouse": ["laptop"], "coffee_filters": ["coffee_maker"],
               "water_bottle": ["backpack"], "rain_jacket": ["backpack"]}
BRANDS = {"running_shoes": ["Nimbus", "Stridex", "Velora"], "hiking_boots": ["Trailpeak", "Stridex", "Ridgeway"],
          "socks": ["Nimbus", "Trailpeak", "Velora"], "insoles": ["Stridex", "Nimbus", "Ridgeway"],
          "smartphone": ["Voltia", "Orbita", "Lumen"], "phone_case": ["Voltia", "Shellwise", "Lumen"],
          "screen_protector": ["Shellwise", "Orbita", "Clearix"], "earbuds": ["Sonora", "Voltia", "Auralis"],
          "headphones": ["Sonora", "Orbita", "Auralis"], "laptop": ["Orbita", "Voltia", "Lumen"],
          "laptop_sleeve": ["Shellwise", "Packwell", "Clearix"], "mouse": ["Orbita", "Sonora", "Clearix"],
          "coffee_maker": ["Kaffeo", "Brewline", "Moka Bella"], "coffee_filters": ["Kaffeo", "Brewline", "Moka Bella"],
          "espresso_machine": ["Kaffeo", "Brewline", "Moka Bella"], "backpack": ["Packwell", "Trailpeak", "Ridgeway"],
          "water_bottle": ["Packwell", "Trailpeak", "Aquaro"], "yoga_mat": ["Lotusa", "Nimbus", "Aquaro"],
          "t_shirt": ["Lotusa", "Nimbus", "Velora"], "rain_jacket": ["Trailpeak", "Lotusa", "Ridgeway"]}
COLORS = {"black": ("black", "negro", "黒"), "white": ("white", "blanco", "白"), "red": ("red", "rojo", "赤"),
          "blue": ("blue", "azul", "青"), "green": ("green", "verde", "緑"), "gray": ("gray", "gris", "グレー")}
MODELS = ["One", "Pro", "Lite", "Max", "Air", "Flex"]
SIZED = {"running_shoes": ["8", "9", "10", "11"], "hiking_boots": ["8", "9", "10", "11"],
         "t_shirt": ["S", "M", "L", "XL"], "rain_jacket": ["S", "M", "L", "XL"]}
BASE_PRICE = {"running_shoes": 89, "hiking_boots": 129, "socks": 14, "insoles": 24, "smartphone": 599, "phone_case": 19,
              "screen_protector": 12, "earbuds": 129, "headphones": 179, "laptop": 999, "laptop_sleeve": 29, "mouse": 25,
              "coffee_maker": 69, "coffee_filters": 6, "espresso_machine": 249, "backpack": 59, "water_bottle": 24,
              "yoga_mat": 35, "t_shirt": 19, "rain_jacket": 99}
# The words shoppers use that the listings do not: only judgments (and the encoder) connect them.
ALIASES = {"en": {"running_shoes": ["jogging shoes", "running trainers"], "earbuds": ["bluetooth earphones", "wireless earphones"],
                  "laptop": ["notebook computer"], "t_shirt": ["cotton tee", "tee shirt"],
                  "rain_jacket": ["waterproof jacket", "rain coat"], "coffee_maker": ["drip coffee machine"],
                  "water_bottle": ["insulated flask"], "yoga_mat": ["exercise mat"], "smartphone": ["mobile phone", "cell phone"],
                  "headphones": ["over ear headset"], "mouse": ["computer mouse"], "socks": ["athletic socks"],
                  "backpack": ["rucksack", "daypack"], "hiking_boots": ["trekking boots"]},
           "es": {"running_shoes": ["zapatillas de running", "tenis para correr"], "smartphone": ["móvil"],
                  "rain_jacket": ["chubasquero"], "backpack": ["morral"], "laptop": ["ordenador portátil"],
                  "earbuds": ["cascos inalámbricos"], "t_shirt": ["playera"]},
           "ja": {"running_shoes": ["ジョギングシューズ"], "smartphone": ["携帯電話"], "backpack": ["バックパック"],
                  "rain_jacket": ["雨具"], "laptop": ["パソコン"], "water_bottle": ["ボトル"]}}
NO_ANSWER = {"en": ["tent", "sofa", "guitar", "lawn mower", "dog food", "bicycle helmet", "camping stove", "ski goggles",
                    "paint brush", "printer ink", "garden hose", "baby stroller"],
             "es": ["tienda de campaña", "sofá", "guitarra", "cortacésped", "comida para perros", "casco de bicicleta"],
             "ja": ["テント", "ソファ", "ギター", "芝刈り機", "ドッグフード", "自転車ヘルメット"]}


def title(loc, brand, model, kind, color, size):
    name = TYPES[kind][0][L[loc]]
    col = COLORS[color][L[loc]]
    if loc == "en":
        base = f"{brand} {model} {name.title() if kind != 't_shirt' else 'T-Shirt'} - {col.title()}"
        return base + (f", Size {size}" if size else "")
    if loc == "es":
        return f"{name[0].upper() + name[1:]} {brand} {model} {col}" + (f" talla {size}" if size else "")
    return f"{brand} {model} {name} {col}" + (f" サイズ{size}" if size else "")


def description(loc, brand, kind, color):
    feat = TYPES[kind][2][L[loc]]
    name = TYPES[kind][0][L[loc]]
    col = COLORS[color][L[loc]]
    if loc == "en":
        return f"The {brand} {name} in {col}: {feat}. Backed by a two-year warranty."
    if loc == "es":
        return f"{name[0].upper() + name[1:]} de {brand} en color {col}: {feat}. Garantía de dos años."
    return f"{brand}の{name}（{col}）。{feat}。2年保証付き。"


products = []  # (record, kind, brand, color, size)
counters = {loc: 0 for loc in LOCALES}


def add_product(loc, kind, brand, model, color, size, group):
    counters[loc] += 1
    pid = f"{loc.upper()}{counters[loc]:04d}"
    price = BASE_PRICE[kind] * rng.uniform(0.75, 1.35)
    price = round(price * 150) if loc == "ja" else round(price, 2)
    p = {"id": pid, "locale": loc, "title": title(loc, brand, model, kind, color, size),
         "description": description(loc, brand, kind, color), "bullets": [TYPES[kind][2][L[loc]]],
         "brand": brand, "color": COLORS[color][L[loc]], "category": TYPES[kind][1][L[loc]],
         "attributes": {"model": model, "material": rng.choice(["recycled", "standard"])},
         "price": price, "popularity": round(rng.lognormvariate(3, 1.2), 1)}
    if size:
        p["attributes"]["size"] = size
    if group:
        p["group"] = group
    products.append((p, kind, brand, color, size))
    return pid


groups = 0
for kind in TYPES:
    combos = [(b, m, c) for b in BRANDS[kind] for m in MODELS for c in COLORS]
    rng.shuffle(combos)
    for i, (brand, model, color) in enumerate(combos[:36]):
        size = rng.choice(SIZED[kind]) if kind in SIZED else None
        cross = i < 22
        group = None
        if cross:
            groups += 1
            group = f"G{groups:05d}"
        add_product("en", kind, brand, model, color, size, group)
        if cross:
            add_product("es", kind, brand, model, color, size, group)
            add_product("ja", kind, brand, model, color, size, group)
    for loc in ["es", "ja"]:  # listings found only in that locale
        for brand, model, color in combos[36 + 8 * L[loc]: 44 + 8 * L[loc]]:
            size = rng.choice(SIZED[kind]) if kind in SIZED else None
            add_product(loc, kind, brand, model, color, size, None)

by_locale = {loc: [pr for pr in products if pr[0]["locale"] == loc] for loc in LOCALES}


# ---- queries: (locale, text, spec); spec = dict(kind, color, brand, size) or None (no answer)
def typo(word):
    if len(word) < 5:
        return None
    i = rng.randrange(1, len(word) - 1)
    op = rng.choice(["drop", "double", "swap", "sub"])
    if op == "drop":
        return word[:i] + word[i + 1:]
    if op == "double":
        return word[:i] + word[i] + word[i:]
    if op == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    return word[:i] + rng.choice("aeiou") + word[i + 1:]


def query_text(loc, kind, color=None, brand=None, size=None):
    name = TYPES[kind][0][L[loc]]
    if loc == "en":
        parts = ([brand] if brand else []) + ([COLORS[color][0]] if color else []) + [name] + ([f"size {size}"] if size else [])
        return " ".join(parts).lower()
    if loc == "es":
        text = name + (" " + COLORS[color][1] if color else "") + (" " + brand if brand else "") + (f" talla {size}" if size else "")
        return text.lower()
    return (brand + " " if brand else "") + name + (" " + COLORS[color][2] if color else "") + (f" サイズ{size}" if size else "")


queries = {}


def add_query(loc, text, spec):
    key = (loc, text)
    if key not in queries:
        queries[key] = spec


kinds = list(TYPES)
for loc in LOCALES:
    scale = 1.0 if loc == "en" else 0.6
    for kind in kinds:  # head queries
        add_query(loc, query_text(loc, kind), {"kind": kind})
    for _ in range(int(120 * scale)):
        kind = rng.choice(kinds)
        add_query(loc, query_text(loc, kind, color=rng.choice(list(COLORS))), {"kind": kind, "color": None})
    for _ in range(int(90 * scale)):
        kind = rng.choice(kinds)
        add_query(loc, query_text(loc, kind, brand=rng.choice(BRANDS[kind])), {"kind": kind})
    for _ in range(int(50 * scale)):
        kind = rng.choice(kinds)
        add_query(loc, query_text(loc, kind, color=rng.choice(list(COLORS)), brand=rng.choice(BRANDS[kind])), {"kind": kind})
    for _ in range(int(24 * scale)):
        kind = rng.choice(list(SIZED))
        add_query(loc, query_text(loc, kind, size=rng.choice(SIZED[kind])), {"kind": kind})
    for kind, aliases in ALIASES[loc].items():
        for alias in aliases:
            add_query(loc, alias, {"kind": kind, "alias": True})
    for text in NO_ANSWER[loc]:
        add_query(loc, text, None)
    if loc != "ja":
        for _ in range(int(80 * scale)):
            kind = rng.choice(kinds)
            words = TYPES[kind][0][L[loc]].split()
            j = max(range(len(words)), key=lambda w: len(words[w]))
            wrong = typo(words[j])
            if wrong and wrong != words[j]:
                words[j] = wrong
                add_query(loc, " ".join(words), {"kind": kind, "typo": True})

# Fill in the slot values of the spec from the text (the generators above chose them).
for (loc, text), spec in queries.items():
    if spec is None:
        continue
    kind = spec["kind"]
    spec["color"] = next((c for c, names in COLORS.items() if names[L[loc]] in text.split() or
                          (loc == "ja" and text.endswith(" " + names[2]))), None)
    spec["brand"] = next((b for b in BRANDS[kind] if b.lower() in text.lower()), None)
    spec["size"] = next((s for s in SIZED.get(kind, []) if text.endswith(f"size {s}") or text.endswith(f"talla {s}".lower())
                         or text.endswith(f"サイズ{s}")), None)


def label(spec, prod):
    p, pkind, pbrand, pcolor, psize = prod
    if spec is None:
        return "I"
    kind = spec["kind"]
    if pkind == kind:
        ok = ((spec["color"] is None or spec["color"] == pcolor) and (spec["brand"] is None or spec["brand"] == pbrand)
              and (spec["size"] is None or spec["size"] == psize))
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
query_rows = {}
# Every exact product of a query is judged (up to 40), so that an unjudged product is rarely a
# relevant one: learners treat unjudged candidates as irrelevant, and nDCG counts them as 0.
quota = {"E": 40, "S": 12, "C": 8, "I": 8}
for qi, ((loc, text), spec) in enumerate(sorted(queries.items())):
    qid = f"Q{qi + 1:04d}"
    split = "test" if rng.random() < 0.2 else "train"
    labelled = {"E": [], "S": [], "C": [], "I": []}
    for pr in by_locale[loc]:
        labelled[label(spec, pr)].append(pr)
    rows = []
    for lab, pool in labelled.items():
        for pr in rng.sample(pool, min(quota[lab] if spec else 8, len(pool))):
            rows.append((pr, lab))
    query_rows[(qid, loc, text, split)] = rows
    for pr, lab in rows:
        judgments.append({"example_id": len(judgments) + 1, "query_id": qid, "query": text, "product_id": pr[0]["id"],
                          "product_locale": loc, "esci_label": lab, "split": split})

with open(os.path.join(OUT, "judgments.csv"), "w", encoding="utf-8", newline="") as f:
    w = csv.DictWriter(f, fieldnames=["example_id", "query_id", "query", "product_id", "product_locale", "esci_label", "split"])
    w.writeheader()
    w.writerows(judgments)

# ---- feedback: a simulated shopper on the train queries (Zipf popularity over queries).
erng = random.Random(args.seed + 1)
train_queries = sorted(k for k in query_rows if k[3] == "train")
erng.shuffle(train_queries)
weights = [1.0 / (r + 1) ** 0.9 for r in range(len(train_queries))]
RELEVANCE = {"E": 3.0, "S": 1.5, "C": 0.8, "I": 0.0}
CLICK = {"E": 0.6, "S": 0.25, "C": 0.1, "I": 0.02}
events = []
ts = 1793577600  # 2026-11-01T00:00:00Z
for s in range(4000):
    qid, loc, text, _ = erng.choices(train_queries, weights)[0]
    rows = query_rows[(qid, loc, text, "train")]
    shown = sorted(rows, key=lambda r: -(RELEVANCE[r[1]] + erng.gauss(0, 1.2)))[:10]
    ts += erng.randint(20, 600)
    session = f"s{s + 1:05d}"

    def ev(offset, product, kind, pos):
        stamp = datetime.datetime.fromtimestamp(ts + offset, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        events.append({"ts": stamp, "session": session, "query": text, "locale": loc, "product_id": product,
                       "type": kind, "position": pos})
    for pos, (pr, lab) in enumerate(shown, 1):
        ev(0, pr[0]["id"], "impression", pos)
    for pos, (pr, lab) in enumerate(shown, 1):
        examined = 1.0 / pos ** 0.8
        if erng.random() < examined * CLICK[lab]:
            ev(5 + pos, pr[0]["id"], "click", pos)
            if lab == "E" and erng.random() < 0.35:
                ev(40 + pos, pr[0]["id"], "add_to_cart", pos)
                if erng.random() < 0.6:
                    ev(120 + pos, pr[0]["id"], "purchase", pos)

with open(os.path.join(OUT, "events.jsonl"), "w", encoding="utf-8") as f:
    for e in events:
        f.write(json.dumps(e, ensure_ascii=False) + "\n")

# ---- related products ("bought together", directed): a main product points at accessories of
# the same locale; substitutes point at each other, more sparsely.
grng = random.Random(args.seed + 2)
ACCESSORIES = {"smartphone": ["phone_case", "screen_protector", "earbuds"], "laptop": ["laptop_sleeve", "mouse"],
               "running_shoes": ["socks", "insoles"], "hiking_boots": ["socks", "insoles", "backpack"],
               "coffee_maker": ["coffee_filters"], "espresso_machine": ["coffee_filters"],
               "yoga_mat": ["water_bottle"], "backpack": ["water_bottle"]}
by_kind = {}
for p, kind, *_ in products:
    by_kind.setdefault((p["locale"], kind), []).append(p["id"])
edges = []
for p, kind, *_ in products:
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

print(f"sample: {len(products)} products ({', '.join(f'{loc} {len(by_locale[loc])}' for loc in LOCALES)}), "
      f"{len(queries)} queries ({sum(1 for k in query_rows if k[3] == 'test')} test), {len(judgments)} judgments, "
      f"{len(events)} events, {len(edges)} related edges -> {OUT}")
