/**
 * The embedded demo database: a small, realistic online shop used when no database is configured.
 *
 * Everything is generated from a fixed seed, so the statements (and therefore every row, count and
 * sum) are identical on every run and on every machine. Only integer arithmetic and IEEE-exact
 * operations (+, -, *, /, Math.floor, Math.round, Math.imul) touch the random stream, and dates are
 * fixed (2025-01-01 .. 2026-06-30, UTC); nothing depends on the current date or the locale.
 */

const SEED = 0x5eed_ce4e;
const BATCH_ROWS = 500;

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const START_MS = Date.UTC(2025, 0, 1);
/** The end of the data: the last order and the last ticket are opened before this instant. */
const AS_OF_MS = Date.UTC(2026, 5, 30, 23, 59, 59);

export const DEMO_ROW_COUNTS = {
  customers: 300,
  products: 60,
  orders: 2500,
  support_tickets: 400,
} as const;

/** SQL string literal: wraps in single quotes and doubles any single quote inside. `null` → NULL. */
export function sqlLiteral(value: string | number | boolean | null): string {
  if (value === null) return 'NULL';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`not a finite number: ${value}`);
    return String(value);
  }
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  return `'${value.replace(/'/g, "''")}'`;
}

// ---------------------------------------------------------------------------------------------
// Deterministic randomness

/** mulberry32: a tiny 32-bit PRNG; returns floats in [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Rand {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  float(): number {
    return this.next();
  }
  /** Integer in [lo, hi], both inclusive. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }
  /** Index drawn with probability proportional to `weights[i]`. */
  weightedIndex(weights: readonly number[], total?: number): number {
    const sum = total ?? weights.reduce((s, w) => s + w, 0);
    let r = this.next() * sum;
    for (let i = 0; i < weights.length; i++) {
      r -= weights[i];
      if (r < 0) return i;
    }
    return weights.length - 1;
  }
  weighted<T>(pairs: readonly (readonly [T, number])[]): T {
    return pairs[this.weightedIndex(pairs.map((p) => p[1]))][0];
  }
}

// ---------------------------------------------------------------------------------------------
// Word lists

const FIRST_NAMES = [
  'Olivia', 'Liam', 'Emma', 'Noah', 'Ava', 'Lucas', 'Mia', 'Ethan', 'Sofia', 'Mateo',
  'Chloe', 'Leo', 'Hannah', 'Elias', 'Grace', 'Jonas', 'Amelia', 'Hugo', 'Isla', 'Oscar',
  'Zoë', 'José', 'Priya', 'Arjun', 'Yuki', 'Haruto', 'Ana', 'Rafael', 'Freya', 'Lars',
  'Camille', 'Louis', 'Nora', 'Finn', 'Maya', 'Daniel', 'Lena', 'Samuel', 'Aisha', 'Omar',
  'Chiara', 'Marco', 'Ingrid', 'Tomás', 'Clara', 'Felix', 'Ruby', 'Jack', 'Elif', 'Kenji',
];

const LAST_NAMES = [
  'Smith', 'Johnson', 'Williams', 'Brown', 'Garcia', 'Miller', 'Davis', 'Martinez', 'Wilson', 'Taylor',
  "O'Brien", 'Müller', 'Schmidt', 'Fischer', 'Dubois', 'Laurent', 'Moreau', 'Rossi', 'Bianchi', 'Jansen',
  'de Vries', 'Bakker', 'Fernández', 'López', 'Silva', 'Santos', 'Tanaka', 'Sato', 'Suzuki', 'Patel',
  'Sharma', 'Kim', 'Nguyen', 'Andersen', 'Nielsen', 'Kowalski', 'Novak', 'Walsh', 'Murphy', 'Campbell',
  'Clarke', 'Evans', 'Hughes', 'Young', 'King', 'Wright', 'Scott', 'Green', 'Baker', 'Adams',
];

/** Country → cities (with a relative weight each) and the country's share of customers. */
const COUNTRIES: readonly { name: string; weight: number; cancelFactor: number; cities: readonly (readonly [string, number])[] }[] = [
  { name: 'United States', weight: 30, cancelFactor: 1.0, cities: [['New York', 5], ['Los Angeles', 4], ['Chicago', 3], ['Austin', 2], ['Seattle', 2], ['Boston', 2], ['Denver', 1]] },
  { name: 'United Kingdom', weight: 14, cancelFactor: 0.8, cities: [['London', 6], ['Manchester', 2], ['Bristol', 1], ['Edinburgh', 1], ['Leeds', 1]] },
  { name: 'Germany', weight: 12, cancelFactor: 0.7, cities: [['Berlin', 4], ['München', 3], ['Hamburg', 2], ['Köln', 2], ['Frankfurt', 1]] },
  { name: 'France', weight: 9, cancelFactor: 1.1, cities: [['Paris', 5], ['Lyon', 2], ['Marseille', 1], ['Toulouse', 1], ['Bordeaux', 1]] },
  { name: 'Canada', weight: 8, cancelFactor: 0.9, cities: [['Toronto', 4], ['Vancouver', 3], ['Montréal', 3], ['Calgary', 1]] },
  { name: 'Netherlands', weight: 6, cancelFactor: 0.6, cities: [['Amsterdam', 4], ['Rotterdam', 2], ['Utrecht', 2], ['Eindhoven', 1]] },
  { name: 'Spain', weight: 6, cancelFactor: 1.4, cities: [['Madrid', 4], ['Barcelona', 4], ['Valencia', 1], ['Sevilla', 1]] },
  { name: 'Australia', weight: 6, cancelFactor: 1.0, cities: [['Sydney', 4], ['Melbourne', 4], ['Brisbane', 2], ['Perth', 1]] },
  { name: 'Japan', weight: 5, cancelFactor: 0.5, cities: [['Tokyo', 5], ['Osaka', 3], ['Kyoto', 1], ['Fukuoka', 1]] },
  { name: 'Brazil', weight: 4, cancelFactor: 2.2, cities: [['São Paulo', 5], ['Rio de Janeiro', 3], ['Belo Horizonte', 1], ['Curitiba', 1]] },
];

const EMAIL_DOMAINS = ['example.com', 'example.net', 'example.org', 'mail.example'];

const SEGMENTS = [['consumer', 72], ['small_business', 21], ['enterprise', 7]] as const;
type Segment = (typeof SEGMENTS)[number][0];

const BRANDS = ['Nimbus', 'Aurora', 'Ridgeline', 'Fjord', 'Cobalt', 'Maple & Co', 'Lumen', 'Terra', 'Vela', 'Kestrel', 'Basalt', 'Juniper'];

interface CategorySpec {
  name: string;
  /** Cost as a fraction of price: [min, max). */
  costRatio: readonly [number, number];
  /** How often the category is bought, relative to the others. */
  popularity: number;
  /** How many of an item people tend to buy at once (0 = always one or two). */
  bulkiness: number;
  /** Each item: name, price band in whole dollars, and a short description fragment. */
  items: readonly (readonly [string, number, number, string])[];
  /** Books have titles, not brands. */
  branded: boolean;
}

const CATEGORIES: readonly CategorySpec[] = [
  {
    name: 'Electronics', costRatio: [0.68, 0.8], popularity: 0.8, bulkiness: 0, branded: true,
    items: [
      ['Wireless Earbuds', 49, 129, 'True-wireless earbuds with a pocket charging case'],
      ['Bluetooth Speaker', 39, 149, 'Water-resistant speaker with 12-hour battery'],
      ['USB-C Hub', 29, 69, '7-in-1 hub: HDMI, USB-A, SD card and pass-through charging'],
      ['Mechanical Keyboard', 79, 169, 'Hot-swappable switches and a compact 75% layout'],
      ['Wireless Mouse', 19, 59, 'Silent clicks, ergonomic shape, multi-device pairing'],
      ['4K Webcam', 59, 149, 'Autofocus webcam with dual microphones'],
      ['Portable SSD 1TB', 89, 139, 'Pocket-sized solid-state drive, USB 3.2'],
      ['Smartwatch', 149, 329, 'Fitness tracking, notifications and a 5-day battery'],
      ['Noise-Cancelling Headphones', 149, 349, 'Over-ear headphones with active noise cancelling'],
      ['Power Bank', 25, 59, '10,000 mAh power bank with fast charging'],
    ],
  },
  {
    name: 'Home & Kitchen', costRatio: [0.45, 0.58], popularity: 1.1, bulkiness: 1, branded: true,
    items: [
      ["Chef's Knife", 39, 119, '20 cm forged stainless-steel blade'],
      ['Cast Iron Skillet', 29, 69, 'Pre-seasoned 26 cm skillet'],
      ['French Press', 19, 49, 'Double-walled, keeps coffee hot for an hour'],
      ['Ceramic Mug Set', 24, 44, 'Set of four hand-glazed mugs'],
      ['Bamboo Cutting Board', 15, 35, 'Reversible board with juice groove'],
      ['Electric Kettle', 29, 79, 'Variable temperature kettle, 1.7 L'],
      ['Matcha Whisk Set 抹茶 🍵', 22, 38, 'Bamboo whisk, scoop and bowl: everything for ceremonial matcha 🍵'],
      ['Scented Candle', 14, 32, 'Soy wax candle, 40-hour burn'],
      ['Stand Mixer', 199, 399, '5 L stand mixer with three attachments'],
      ['Pour-Over Coffee Kit', 29, 59, 'Dripper, glass server and 100 filters'],
    ],
  },
  {
    name: 'Outdoors', costRatio: [0.48, 0.6], popularity: 0.9, bulkiness: 0, branded: true,
    items: [
      ['Trail Backpack 35L', 69, 139, 'Lightweight daypack with rain cover'],
      ['Camping Hammock', 29, 69, 'Parachute-nylon hammock with tree straps'],
      ['Insulated Water Bottle', 19, 39, 'Keeps drinks cold for 24 hours'],
      ['Trekking Poles', 39, 99, 'Carbon poles with cork grips, pair'],
      ['Headlamp', 19, 49, 'Rechargeable 400-lumen headlamp'],
      ['Two-Person Tent', 129, 299, 'Freestanding three-season tent'],
      ['Sleeping Bag', 79, 199, 'Down sleeping bag rated to -5 °C'],
      ['Camp Stove', 39, 89, 'Compact gas stove with piezo ignition'],
      ['Folding Camp Chair', 29, 69, 'Packs down to the size of a water bottle'],
      ['Binoculars 10x42', 89, 229, 'Waterproof roof-prism binoculars'],
    ],
  },
  {
    name: 'Books', costRatio: [0.55, 0.65], popularity: 1.0, bulkiness: 2, branded: false,
    items: [
      ['The Patient Gardener', 14, 24, 'A year of small, slow garden projects'],
      ['Sourdough at Home', 18, 32, 'Starters, schedules and forty loaves'],
      ['Field Guide to Coastal Birds', 19, 34, 'Illustrated guide with range maps'],
      ['Atlas of Remote Islands', 22, 39, 'Fifty islands you will probably never visit'],
      ['Data for Humans', 24, 44, 'Plain-language statistics for busy people'],
      ['The Quiet Trail', 12, 19, 'A novel about a long walk'],
      ['Weeknight Vegetarian', 19, 34, '100 recipes in 30 minutes or less'],
      ['Small Spaces, Big Plants', 16, 29, 'Houseplants for flats and offices'],
      ['A Short History of Maps', 17, 29, 'From clay tablets to satellites'],
      ['Learning to Sketch', 14, 26, 'Pencil exercises for absolute beginners'],
    ],
  },
  {
    name: 'Apparel', costRatio: [0.32, 0.45], popularity: 1.3, bulkiness: 1, branded: true,
    items: [
      ['Merino T-Shirt', 39, 69, 'Odour-resistant merino wool tee'],
      ['Hoodie', 49, 89, 'Heavyweight organic-cotton hoodie'],
      ['Chino Trousers', 49, 89, 'Stretch cotton chinos, regular fit'],
      ['Rain Jacket', 89, 189, 'Packable waterproof shell'],
      ['Wool Socks 3-Pack', 19, 29, 'Cushioned hiking socks'],
      ['Denim Jacket', 69, 129, 'Classic trucker jacket in raw denim'],
      ['Running Shorts', 24, 49, 'Lightweight shorts with zip pocket'],
      ['Beanie', 15, 29, 'Ribbed knit beanie'],
      ['Flannel Shirt', 39, 69, 'Brushed cotton flannel'],
      ['Leather Belt', 29, 59, 'Full-grain leather belt with brass buckle'],
    ],
  },
  {
    name: 'Beauty', costRatio: [0.22, 0.35], popularity: 1.2, bulkiness: 2, branded: true,
    items: [
      ['Vitamin C Face Serum', 24, 49, 'Brightening serum, 30 ml'],
      ['Lip Balm Set', 9, 18, 'Four tinted balms'],
      ['Shampoo Bar', 9, 16, 'Plastic-free solid shampoo'],
      ['Mineral Sunscreen SPF 50', 16, 29, 'Reef-safe mineral sunscreen'],
      ['Hand Cream', 8, 19, 'Fast-absorbing shea hand cream'],
      ['Clay Face Mask', 14, 29, 'Kaolin clay mask for oily skin'],
      ['Beard Oil', 12, 24, 'Cedarwood and argan beard oil'],
      ['Body Wash', 9, 18, 'Gentle, fragrance-free body wash'],
      ['Night Cream', 24, 54, 'Retinol-free overnight moisturiser'],
      ['Hydrating Eye Patches', 16, 32, 'Box of 30 hydrogel patches'],
    ],
  },
];

const TICKET_SUBJECTS: readonly (readonly [string, number])[] = [
  ['Where is my order?', 14],
  ['Package arrived damaged', 7],
  ['Wrong item received', 5],
  ['Request a refund', 7],
  ['Change shipping address', 5],
  ['Cancel my order', 5],
  ['Discount code not working', 4],
  ['Charged twice for one order', 3],
  ['Product stopped working', 5],
  ['Missing item in package', 4],
  ['Question about sizing', 3],
  ['Invoice needed for my company', 3],
  ['Cannot log in to my account', 4],
  ['Delivery is late', 8],
  ['Return label request', 5],
];

/** Harmless values that would break naive quoting or HTML rendering. Each appears exactly once. */
const HOSTILE_DESCRIPTION = "Bulk carton of 12. Supplier note: '; DROP TABLE orders; --";
const HOSTILE_TICKET_SUBJECTS = [
  '<script>alert(1)</script>',
  '配送が遅れています 📦😞 (Lieferung verspätet)',
  "Robert'); DROP TABLE support_tickets; --",
];

// ---------------------------------------------------------------------------------------------
// Schema

const DDL: readonly string[] = [
  `CREATE TABLE customers (
  id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  name text NOT NULL,
  email text NOT NULL UNIQUE CHECK (position('@' in email) > 1),
  country text NOT NULL,
  city text NOT NULL,
  signup_date date NOT NULL,
  segment text NOT NULL CHECK (segment IN ('consumer', 'small_business', 'enterprise'))
)`,
  `CREATE TABLE products (
  id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  name text NOT NULL UNIQUE,
  category text NOT NULL,
  description text,
  price numeric(10,2) NOT NULL CHECK (price > 0),
  cost numeric(10,2) NOT NULL CHECK (cost >= 0),
  active boolean NOT NULL DEFAULT true,
  CHECK (cost <= price)
)`,
  `CREATE TABLE orders (
  id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  customer_id integer NOT NULL REFERENCES customers (id),
  status text NOT NULL CHECK (status IN ('pending', 'paid', 'shipped', 'delivered', 'cancelled', 'refunded')),
  ordered_at timestamptz NOT NULL,
  channel text NOT NULL CHECK (channel IN ('web', 'mobile_app', 'marketplace', 'phone'))
)`,
  `CREATE TABLE order_items (
  id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  order_id integer NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
  product_id integer NOT NULL REFERENCES products (id),
  quantity integer NOT NULL CHECK (quantity > 0),
  unit_price numeric(10,2) NOT NULL CHECK (unit_price >= 0),
  UNIQUE (order_id, product_id)
)`,
  `CREATE TABLE support_tickets (
  id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  customer_id integer NOT NULL REFERENCES customers (id),
  subject text NOT NULL,
  priority text NOT NULL CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
  status text NOT NULL CHECK (status IN ('open', 'in_progress', 'resolved', 'closed')),
  opened_at timestamptz NOT NULL,
  closed_at timestamptz,
  CHECK (closed_at IS NULL OR closed_at >= opened_at),
  CHECK ((status IN ('resolved', 'closed')) = (closed_at IS NOT NULL))
)`,
  'CREATE INDEX orders_customer_id_idx ON orders (customer_id)',
  'CREATE INDEX orders_ordered_at_idx ON orders (ordered_at)',
  'CREATE INDEX order_items_product_id_idx ON order_items (product_id)',
  'CREATE INDEX support_tickets_customer_id_idx ON support_tickets (customer_id)',
];

const COMMENTS: readonly (readonly [string, string])[] = [
  ['TABLE customers', 'People and companies who have an account with the shop (demo data).'],
  ['COLUMN customers.country', 'Country of the customer, as an English country name, e.g. United States, Germany.'],
  ['COLUMN customers.signup_date', 'Date the customer created their account.'],
  ['COLUMN customers.segment', "Customer type: 'consumer', 'small_business' or 'enterprise'."],
  ['TABLE products', 'The product catalogue. Prices are in US dollars.'],
  ['COLUMN products.category', 'One of: Electronics, Home & Kitchen, Outdoors, Books, Apparel, Beauty.'],
  ['COLUMN products.price', 'Current list price per unit, in US dollars. What a customer actually paid is order_items.unit_price.'],
  ['COLUMN products.cost', 'What one unit costs the shop to buy in, in US dollars. Margin = price - cost.'],
  ['COLUMN products.active', 'False when the product is discontinued and no longer sold; old orders may still contain it.'],
  ['TABLE orders', 'One row per customer order. Order lines are in order_items.'],
  ['COLUMN orders.status', "Lifecycle: 'pending' (not yet paid), 'paid', 'shipped', 'delivered', 'cancelled' (before shipping, no money taken) or 'refunded' (money returned). Revenue normally excludes cancelled and refunded orders."],
  ['COLUMN orders.ordered_at', 'When the order was placed (UTC).'],
  ['COLUMN orders.channel', "Where the order was placed: 'web', 'mobile_app', 'marketplace' (third-party marketplace) or 'phone'."],
  ['TABLE order_items', 'Lines of an order: which product, how many and at what price. Line revenue = quantity * unit_price.'],
  ['COLUMN order_items.unit_price', 'Price actually charged per unit, in US dollars, after any discount; may differ from products.price.'],
  ['TABLE support_tickets', 'Customer-service tickets raised by customers.'],
  ['COLUMN support_tickets.priority', "'low', 'normal', 'high' or 'urgent'."],
  ['COLUMN support_tickets.status', "'open' and 'in_progress' tickets are still open; 'resolved' and 'closed' tickets are finished and have closed_at set."],
  ['COLUMN support_tickets.closed_at', 'When the ticket was resolved or closed; NULL while it is still open.'],
];

// ---------------------------------------------------------------------------------------------
// Generation

interface Customer {
  id: number;
  name: string;
  email: string;
  country: string;
  cancelFactor: number;
  city: string;
  signupMs: number;
  segment: Segment;
  /** Relative likelihood of ordering: a few customers buy a lot. */
  propensity: number;
}

interface Product {
  id: number;
  name: string;
  category: string;
  bulkiness: number;
  description: string;
  priceCents: number;
  costCents: number;
  active: boolean;
  /** Inactive products are not sold from this instant on. */
  discontinuedMs: number;
  popularity: number;
}

interface Order {
  id: number;
  customerId: number;
  status: string;
  orderedMs: number;
  channel: string;
}

interface OrderItem {
  id: number;
  orderId: number;
  productId: number;
  quantity: number;
  unitPriceCents: number;
}

interface Ticket {
  id: number;
  customerId: number;
  subject: string;
  priority: string;
  status: string;
  openedMs: number;
  closedMs: number | null;
}

function isoDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function isoTimestamp(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')}+00`;
}

function money(cents: number): string {
  const sign = cents < 0 ? '-' : '';
  const abs = Math.abs(cents);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

function asciiSlug(s: string): string {
  return s
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/ł/g, 'l')
    .toLowerCase()
    .replace(/[^a-z]+/g, '');
}

function monthStartMs(monthIndex: number): number {
  return Date.UTC(2025, monthIndex, 1);
}

/** Relative order volume per calendar month: quiet late winter, a summer dip, a big November/December. */
const MONTH_SEASONALITY = [0.8, 0.72, 0.88, 0.95, 1.0, 0.9, 0.82, 0.85, 1.0, 1.1, 1.55, 1.75];
const MONTHS = 18; // 2025-01 .. 2026-06

function generateCustomers(rng: Rand): Customer[] {
  const customers: Customer[] = [];
  const countryWeights = COUNTRIES.map((c) => c.weight);
  const usedEmails = new Set<string>();
  // A third of the customers came with the launch (first quarter of 2025); the rest sign up steadily.
  const lateSpanDays = Math.floor((Date.UTC(2026, 5, 15) - Date.UTC(2025, 3, 1)) / DAY_MS);
  for (let id = 1; id <= DEMO_ROW_COUNTS.customers; id++) {
    const first = rng.pick(FIRST_NAMES);
    const last = rng.pick(LAST_NAMES);
    const country = COUNTRIES[rng.weightedIndex(countryWeights)];
    const city = rng.weighted(country.cities);
    const segment = rng.weighted(SEGMENTS);
    // The first few accounts were created on launch day, so the very first orders have customers.
    const signupMs = id <= 5
      ? START_MS
      : rng.chance(0.34)
      ? START_MS + rng.int(0, 89) * DAY_MS
      : Date.UTC(2025, 3, 1) + rng.int(0, lateSpanDays) * DAY_MS;
    let local = `${asciiSlug(first)}.${asciiSlug(last)}`;
    if (usedEmails.has(local)) local = `${local}${id}`;
    usedEmails.add(local);
    const domain = segment === 'consumer' ? rng.pick(EMAIL_DOMAINS) : `${asciiSlug(last)}-${rng.pick(['labs', 'studio', 'trading', 'group'])}.example`;
    const r = rng.float();
    const segmentFactor = segment === 'enterprise' ? 2.5 : segment === 'small_business' ? 1.5 : 1;
    customers.push({
      id,
      name: `${first} ${last}`,
      email: `${local}@${domain}`,
      country: country.name,
      cancelFactor: country.cancelFactor,
      city,
      signupMs,
      segment,
      propensity: (0.25 + 10 * r * r * r * r) * segmentFactor,
    });
  }
  return customers;
}

function generateProducts(rng: Rand): Product[] {
  const products: Product[] = [];
  let id = 1;
  for (const category of CATEGORIES) {
    for (const [noun, lo, hi, blurb] of category.items) {
      let name: string = noun;
      if (category.branded) name = `${rng.pick(BRANDS)} ${noun}`;
      const priceCents = rng.int(lo, hi) * 100 + 99;
      const [cLo, cHi] = category.costRatio;
      const costCents = Math.round(priceCents * (cLo + rng.float() * (cHi - cLo)));
      const active = !rng.chance(0.1);
      const r = rng.float();
      products.push({
        id,
        name,
        category: category.name,
        bulkiness: category.bulkiness,
        description: `${blurb}.`,
        priceCents,
        costCents,
        active,
        discontinuedMs: active ? Number.POSITIVE_INFINITY : Date.UTC(2025, 9, 1) + rng.int(0, 180) * DAY_MS,
        popularity: category.popularity * (0.3 + 3 * r * r * r),
      });
      id++;
    }
  }
  // One supplier note that would break naive string concatenation.
  const bulk = products.find((p) => p.name.endsWith('Wool Socks 3-Pack'));
  if (bulk) bulk.description = HOSTILE_DESCRIPTION;
  return products;
}

/** Splits `total` across months in proportion to seasonality and steady growth (largest remainder, deterministic). */
function ordersPerMonth(total: number): number[] {
  const weights: number[] = [];
  for (let m = 0; m < MONTHS; m++) weights.push(MONTH_SEASONALITY[m % 12] * (1 + 0.035 * m));
  const sum = weights.reduce((s, w) => s + w, 0);
  const exact = weights.map((w) => (w * total) / sum);
  const counts = exact.map(Math.floor);
  let missing = total - counts.reduce((s, c) => s + c, 0);
  const byRemainder = exact.map((e, i) => [e - Math.floor(e), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (const [, i] of byRemainder) {
    if (missing-- <= 0) break;
    counts[i]++;
  }
  return counts;
}

function orderStatus(rng: Rand, orderedMs: number, channel: string, customer: Customer): string {
  const cancelRate = (channel === 'marketplace' ? 0.085 : 0.04) * customer.cancelFactor;
  const ageDays = (AS_OF_MS - orderedMs) / DAY_MS;
  const r = rng.float();
  if (r < cancelRate) return 'cancelled';
  if (ageDays > 14 && r < cancelRate + 0.03) return 'refunded';
  if (ageDays < 2) return rng.chance(0.45) ? 'pending' : 'paid';
  if (ageDays < 5) return rng.chance(0.4) ? 'paid' : 'shipped';
  if (ageDays < 12) return rng.chance(0.5) ? 'shipped' : 'delivered';
  return 'delivered';
}

function generateOrders(rng: Rand, customers: Customer[]): Order[] {
  const counts = ordersPerMonth(DEMO_ROW_COUNTS.orders);
  const drafts: Omit<Order, 'id'>[] = [];
  for (let m = 0; m < MONTHS; m++) {
    const start = monthStartMs(m);
    const days = Math.round((monthStartMs(m + 1) - start) / DAY_MS);
    for (let k = 0; k < counts[m]; k++) {
      // Black Friday (2025-11-28) and the weekend after it get a fifth of November's orders.
      const day = m === 10 && rng.chance(0.2) ? rng.int(27, 30) : rng.int(0, days - 1);
      // Most orders are placed between 07:00 and 23:00 UTC.
      const hour = rng.chance(0.85) ? rng.int(7, 22) : rng.int(0, 23);
      const orderedMs = start + day * DAY_MS + hour * HOUR_MS + rng.int(0, 3599) * 1000;
      const eligible = customers.filter((c) => c.signupMs <= orderedMs);
      const customer = eligible[rng.weightedIndex(eligible.map((c) => c.propensity))];
      const channel = rng.weighted([
        ['web', 52],
        ['mobile_app', m >= 9 ? 30 : 20], // the app launched properly in autumn 2025
        ['marketplace', 16],
        ['phone', customer.segment === 'enterprise' ? 12 : 3],
      ] as const);
      const status = orderStatus(rng, orderedMs, channel, customer);
      drafts.push({ customerId: customer.id, status, orderedMs, channel });
    }
  }
  drafts.sort((a, b) => a.orderedMs - b.orderedMs);
  return drafts.map((d, i) => ({ id: i + 1, ...d }));
}

function generateOrderItems(rng: Rand, orders: Order[], products: Product[], customers: Customer[]): OrderItem[] {
  const items: OrderItem[] = [];
  const lineCounts = [[1, 30], [2, 28], [3, 20], [4, 12], [5, 6], [6, 4]] as const;
  let id = 1;
  for (const order of orders) {
    const customer = customers[order.customerId - 1];
    const available = products.filter((p) => p.discontinuedMs > order.orderedMs);
    const weights = available.map((p) => p.popularity);
    const lines = rng.weighted(lineCounts);
    const chosen = new Set<number>();
    for (let tries = 0; chosen.size < lines && tries < 40; tries++) {
      chosen.add(rng.weightedIndex(weights));
    }
    // November and December bring deeper discounts.
    const month = new Date(order.orderedMs).getUTCMonth();
    const discountChance = month >= 10 ? 0.3 : 0.1;
    for (const index of [...chosen].sort((a, b) => a - b)) {
      const product = available[index];
      let quantity = rng.weighted([[1, 70], [2, 18], [3, 7], [4, 3], [6, 2]] as const);
      if (product.bulkiness > 0 && rng.chance(0.15 * product.bulkiness)) quantity += rng.int(1, 3);
      if (customer.segment === 'enterprise' && rng.chance(0.4)) quantity += rng.int(2, 9);
      const discount = rng.chance(discountChance) ? rng.pick([10, 15, 20, 25]) : 0;
      const unitPriceCents = Math.round((product.priceCents * (100 - discount)) / 100);
      items.push({ id: id++, orderId: order.id, productId: product.id, quantity, unitPriceCents });
    }
  }
  return items;
}

function generateTickets(rng: Rand, customers: Customer[]): Ticket[] {
  const drafts: Omit<Ticket, 'id'>[] = [];
  const propensity = customers.map((c) => c.propensity + 0.5);
  const resolutionHours: Record<string, readonly [number, number]> = {
    urgent: [1, 16],
    high: [3, 60],
    normal: [10, 140],
    low: [20, 300],
  };
  for (let n = 0; n < DEMO_ROW_COUNTS.support_tickets; n++) {
    const customer = customers[rng.weightedIndex(propensity)];
    const spanHours = Math.floor((AS_OF_MS - customer.signupMs) / HOUR_MS);
    let openedMs = customer.signupMs + rng.int(6, spanHours) * HOUR_MS + rng.int(0, 3599) * 1000;
    // The holiday rush brings extra tickets: some land in December 2025 / January 2026 instead.
    if (rng.chance(0.2)) {
      const rushMs = Date.UTC(2025, 11, 1) + rng.int(0, 61 * 24 - 1) * HOUR_MS + rng.int(0, 3599) * 1000;
      if (rushMs >= customer.signupMs + 6 * HOUR_MS) openedMs = rushMs;
    }
    if (openedMs > AS_OF_MS) openedMs = AS_OF_MS - rng.int(1, 48) * HOUR_MS;
    const priority = rng.weighted([['low', 28], ['normal', 46], ['high', 19], ['urgent', 7]] as const);
    const subject = rng.weighted(TICKET_SUBJECTS);
    const ageDays = (AS_OF_MS - openedMs) / DAY_MS;
    let status: string;
    const r = rng.float();
    if (ageDays < 7) status = r < 0.55 ? 'open' : r < 0.85 ? 'in_progress' : 'resolved';
    else if (ageDays < 30) status = r < 0.2 ? 'open' : r < 0.45 ? 'in_progress' : r < 0.8 ? 'resolved' : 'closed';
    else status = r < 0.03 ? 'open' : r < 0.07 ? 'in_progress' : r < 0.37 ? 'resolved' : 'closed';
    // Urgent tickets rarely stay open for long.
    if (priority === 'urgent' && ageDays > 3 && (status === 'open' || status === 'in_progress') && rng.chance(0.7)) status = 'resolved';
    let closedMs: number | null = null;
    if (status === 'resolved' || status === 'closed') {
      const [lo, hi] = resolutionHours[priority];
      closedMs = openedMs + rng.int(lo, hi) * HOUR_MS + rng.int(0, 3599) * 1000;
      if (closedMs > AS_OF_MS) {
        closedMs = null;
        status = 'in_progress';
      }
    }
    drafts.push({ customerId: customer.id, subject, priority, status, openedMs, closedMs });
  }
  drafts.sort((a, b) => a.openedMs - b.openedMs);
  const tickets = drafts.map((d, i) => ({ id: i + 1, ...d }));
  // Spread the hostile subjects over the year; they stay ordinary tickets in every other respect.
  HOSTILE_TICKET_SUBJECTS.forEach((subject, i) => {
    tickets[Math.floor(((i + 1) * tickets.length) / (HOSTILE_TICKET_SUBJECTS.length + 1))].subject = subject;
  });
  return tickets;
}

// ---------------------------------------------------------------------------------------------
// SQL text

function insertStatements(table: string, columns: readonly string[], rows: readonly string[][]): string[] {
  const statements: string[] = [];
  for (let i = 0; i < rows.length; i += BATCH_ROWS) {
    const values = rows
      .slice(i, i + BATCH_ROWS)
      .map((r) => `(${r.join(', ')})`)
      .join(',\n');
    statements.push(`INSERT INTO ${table} (${columns.join(', ')}) VALUES\n${values}`);
  }
  return statements;
}

interface DemoData {
  customers: Customer[];
  products: Product[];
  orders: Order[];
  orderItems: OrderItem[];
  tickets: Ticket[];
}

function generate(): DemoData {
  const rng = new Rand(SEED);
  const customers = generateCustomers(rng);
  const products = generateProducts(rng);
  const orders = generateOrders(rng, customers);
  const orderItems = generateOrderItems(rng, orders, products, customers);
  const tickets = generateTickets(rng, customers);
  return { customers, products, orders, orderItems, tickets };
}

/**
 * The statements that build the demo schema in a fresh (empty) database, in order: tables, indexes,
 * comments, data in multi-row INSERTs, identity resets, then ANALYZE. Run each element as one statement.
 * The result is identical on every call (about 400 kB of SQL, generated in well under 100 ms).
 */
export function demoDatabaseSql(): string[] {
  const { customers, products, orders, orderItems, tickets } = generate();
  const L = sqlLiteral;
  const statements: string[] = [...DDL];
  for (const [target, text] of COMMENTS) statements.push(`COMMENT ON ${target} IS ${L(text)}`);

  statements.push(
    ...insertStatements(
      'customers',
      ['id', 'name', 'email', 'country', 'city', 'signup_date', 'segment'],
      customers.map((c) => [String(c.id), L(c.name), L(c.email), L(c.country), L(c.city), L(isoDate(c.signupMs)), L(c.segment)]),
    ),
    ...insertStatements(
      'products',
      ['id', 'name', 'category', 'description', 'price', 'cost', 'active'],
      products.map((p) => [String(p.id), L(p.name), L(p.category), L(p.description), money(p.priceCents), money(p.costCents), L(p.active)]),
    ),
    ...insertStatements(
      'orders',
      ['id', 'customer_id', 'status', 'ordered_at', 'channel'],
      orders.map((o) => [String(o.id), String(o.customerId), L(o.status), L(isoTimestamp(o.orderedMs)), L(o.channel)]),
    ),
    ...insertStatements(
      'order_items',
      ['id', 'order_id', 'product_id', 'quantity', 'unit_price'],
      orderItems.map((i) => [String(i.id), String(i.orderId), String(i.productId), String(i.quantity), money(i.unitPriceCents)]),
    ),
    ...insertStatements(
      'support_tickets',
      ['id', 'customer_id', 'subject', 'priority', 'status', 'opened_at', 'closed_at'],
      tickets.map((t) => [
        String(t.id),
        String(t.customerId),
        L(t.subject),
        L(t.priority),
        L(t.status),
        L(isoTimestamp(t.openedMs)),
        t.closedMs === null ? 'NULL' : L(isoTimestamp(t.closedMs)),
      ]),
    ),
  );

  // Explicit ids were inserted; move each identity past them so later inserts (if any) don't collide.
  for (const table of ['customers', 'products', 'orders', 'order_items', 'support_tickets']) {
    statements.push(`SELECT setval(pg_get_serial_sequence('${table}', 'id'), (SELECT max(id) FROM ${table}))`);
  }
  statements.push('ANALYZE');
  return statements;
}
