/**
 * Recorded model output for `npm run demo`. The demo replays these replies instead of calling a model
 * (and says so on screen), but the SQL really runs on the embedded demo database
 * (`src/core/sources/demo-data.ts`), so the rows are real.
 *
 * Every figure in an `analysisReply` was computed by running its SQL on the demo data.
 * `test/unit/demo-data.test.ts` re-runs each query and fails, naming the recording, if the data
 * generator changes so that a figure no longer holds.
 */

/** One figure that `analysisReply` quotes: the value of `column` in result row `row` (0-based). */
export interface DemoCheck {
  row: number;
  column: string;
  /** Numbers are compared to two decimals; strings exactly. */
  value: number | string;
}

export interface DemoRecording {
  question: string;
  /** What the model answers to the SQL prompt: a sentence, then the query in a ```sql fence. */
  sqlReply: string;
  /** What the model answers to the analysis prompt, given the rows. Markdown. */
  analysisReply: string;
  /** Key figures quoted in `analysisReply`, as the query returns them. */
  checks: DemoCheck[];
}

export const demoRecordings: DemoRecording[] = [
  {
    question: 'Who are our top 10 customers by revenue?',
    sqlReply: `Revenue per customer from their order lines, leaving out cancelled and refunded orders, with each customer's share of total revenue.

\`\`\`sql
SELECT c.id,
       c.name,
       c.country,
       c.segment,
       count(DISTINCT o.id) AS orders,
       sum(oi.quantity * oi.unit_price) AS revenue,
       round(100 * sum(oi.quantity * oi.unit_price) / sum(sum(oi.quantity * oi.unit_price)) OVER (), 1) AS share_of_revenue_pct
FROM customers c
JOIN orders o ON o.customer_id = c.id
JOIN order_items oi ON oi.order_id = o.id
WHERE o.status NOT IN ('cancelled', 'refunded')
GROUP BY c.id, c.name, c.country, c.segment
ORDER BY revenue DESC, c.id
LIMIT 10;
\`\`\``,
    analysisReply: `- **Isla Garcia** (enterprise, Germany) is by far the biggest customer: **$59,861.14** across 87 orders, **7.9%** of all revenue.
- **Elif Patel** (enterprise, Japan) is second with **$44,521.20** (5.9%). After those two the list flattens out: the remaining eight range from $18,888.61 (Amelia Taylor) down to $12,648.54 (Finn Williams).
- Together the top 10 bring in **$222,791.15**, about **29.4%** of revenue. That is a lot of weight on a few accounts; losing either of the top two would be felt.
- Five of the ten are enterprise accounts and four are small businesses; Clara Young (United Kingdom, 53 orders) is the only consumer on the list.`,
    checks: [
      { row: 0, column: 'name', value: 'Isla Garcia' },
      { row: 0, column: 'revenue', value: 59861.14 },
      { row: 0, column: 'orders', value: 87 },
      { row: 0, column: 'share_of_revenue_pct', value: 7.9 },
      { row: 1, column: 'name', value: 'Elif Patel' },
      { row: 1, column: 'revenue', value: 44521.2 },
      { row: 1, column: 'share_of_revenue_pct', value: 5.9 },
      { row: 2, column: 'revenue', value: 18888.61 },
      { row: 4, column: 'name', value: 'Clara Young' },
      { row: 4, column: 'segment', value: 'consumer' },
      { row: 4, column: 'orders', value: 53 },
      { row: 9, column: 'name', value: 'Finn Williams' },
      { row: 9, column: 'revenue', value: 12648.54 },
    ],
  },
  {
    question: 'What was the monthly revenue in 2025?',
    sqlReply: `Revenue and order count per calendar month of 2025, excluding cancelled and refunded orders.

\`\`\`sql
SELECT to_char(date_trunc('month', o.ordered_at), 'YYYY-MM') AS month,
       count(DISTINCT o.id) AS orders,
       sum(oi.quantity * oi.unit_price) AS revenue
FROM orders o
JOIN order_items oi ON oi.order_id = o.id
WHERE o.status NOT IN ('cancelled', 'refunded')
  AND o.ordered_at >= '2025-01-01'
  AND o.ordered_at < '2026-01-01'
GROUP BY 1
ORDER BY 1;
\`\`\``,
    analysisReply: `- Revenue for 2025 totalled **$491,227.98** from 1,524 orders, an average of about $40,936 a month.
- The year started slowly: $26,353.57 in January and the low point of **$22,593.73** in February.
- Spring grew steadily to $42,522.74 in May, then summer was flat: June ($33,349.35), July ($33,354.47) and August ($33,519.57) are almost identical.
- The holiday season dominates: November brought **$65,090.38** (206 orders) and December was the best month at **$71,824.49** from 252 orders, more than three times February.`,
    checks: [
      { row: 0, column: 'month', value: '2025-01' },
      { row: 0, column: 'revenue', value: 26353.57 },
      { row: 1, column: 'revenue', value: 22593.73 },
      { row: 4, column: 'revenue', value: 42522.74 },
      { row: 5, column: 'revenue', value: 33349.35 },
      { row: 6, column: 'revenue', value: 33354.47 },
      { row: 7, column: 'revenue', value: 33519.57 },
      { row: 10, column: 'month', value: '2025-11' },
      { row: 10, column: 'revenue', value: 65090.38 },
      { row: 10, column: 'orders', value: 206 },
      { row: 11, column: 'month', value: '2025-12' },
      { row: 11, column: 'revenue', value: 71824.49 },
      { row: 11, column: 'orders', value: 252 },
    ],
  },
  {
    question: 'Which product categories have the best margin?',
    sqlReply: `Gross margin per category on what was actually sold (charged price minus unit cost), excluding cancelled and refunded orders.

\`\`\`sql
SELECT p.category,
       sum(oi.quantity * oi.unit_price) AS revenue,
       sum(oi.quantity * (oi.unit_price - p.cost)) AS gross_margin,
       round(100 * sum(oi.quantity * (oi.unit_price - p.cost)) / sum(oi.quantity * oi.unit_price), 1) AS margin_pct
FROM order_items oi
JOIN orders o ON o.id = oi.order_id
JOIN products p ON p.id = oi.product_id
WHERE o.status NOT IN ('cancelled', 'refunded')
GROUP BY p.category
ORDER BY margin_pct DESC;
\`\`\``,
    analysisReply: `- **Beauty** has the best margin: **68.0%** on $88,414.36 of sales.
- **Apparel** is second at **59.6%**, and because it sells more it earns more margin in dollars than Beauty ($74,993.91 against $60,104.59).
- **Home & Kitchen** is the largest category ($258,226.82 of sales) and the biggest earner in absolute terms ($113,676.78 of margin) at a middling 44.0%.
- **Electronics** is the weakest at **24.8%**: $113,868.03 of sales leave only $28,209.09 of gross margin.
- Margin here is sales minus the current unit cost; it ignores shipping, returns handling and marketing.`,
    checks: [
      { row: 0, column: 'category', value: 'Beauty' },
      { row: 0, column: 'margin_pct', value: 68.0 },
      { row: 0, column: 'revenue', value: 88414.36 },
      { row: 0, column: 'gross_margin', value: 60104.59 },
      { row: 1, column: 'category', value: 'Apparel' },
      { row: 1, column: 'margin_pct', value: 59.6 },
      { row: 1, column: 'gross_margin', value: 74993.91 },
      { row: 2, column: 'category', value: 'Home & Kitchen' },
      { row: 2, column: 'revenue', value: 258226.82 },
      { row: 2, column: 'gross_margin', value: 113676.78 },
      { row: 2, column: 'margin_pct', value: 44.0 },
      { row: 5, column: 'category', value: 'Electronics' },
      { row: 5, column: 'margin_pct', value: 24.8 },
      { row: 5, column: 'revenue', value: 113868.03 },
      { row: 5, column: 'gross_margin', value: 28209.09 },
    ],
  },
  {
    question: 'How many support tickets are still open, by priority?',
    sqlReply: `Tickets that are not yet resolved or closed (status \`open\` or \`in_progress\`), per priority, with the oldest one in each group.

\`\`\`sql
SELECT priority,
       count(*) FILTER (WHERE status = 'open') AS open,
       count(*) FILTER (WHERE status = 'in_progress') AS in_progress,
       count(*) AS still_open,
       to_char(min(opened_at), 'YYYY-MM-DD') AS oldest_opened
FROM support_tickets
WHERE status IN ('open', 'in_progress')
GROUP BY priority
ORDER BY CASE priority WHEN 'urgent' THEN 1 WHEN 'high' THEN 2 WHEN 'normal' THEN 3 ELSE 4 END;
\`\`\``,
    analysisReply: `- **61 tickets** are still open: 2 urgent, 9 high, 30 normal and 20 low priority.
- Both urgent tickets are already in progress, so nothing urgent is waiting untouched.
- 26 tickets have not been picked up at all (status \`open\`): 3 high, 14 normal and 9 low.
- Some are stale: the oldest unresolved high-priority ticket was opened on **2025-02-11** and the oldest normal one on 2025-05-06. A triage pass on old tickets looks worthwhile.`,
    checks: [
      { row: 0, column: 'priority', value: 'urgent' },
      { row: 0, column: 'still_open', value: 2 },
      { row: 0, column: 'in_progress', value: 2 },
      { row: 0, column: 'open', value: 0 },
      { row: 1, column: 'priority', value: 'high' },
      { row: 1, column: 'still_open', value: 9 },
      { row: 1, column: 'open', value: 3 },
      { row: 1, column: 'oldest_opened', value: '2025-02-11' },
      { row: 2, column: 'priority', value: 'normal' },
      { row: 2, column: 'still_open', value: 30 },
      { row: 2, column: 'open', value: 14 },
      { row: 2, column: 'oldest_opened', value: '2025-05-06' },
      { row: 3, column: 'priority', value: 'low' },
      { row: 3, column: 'still_open', value: 20 },
      { row: 3, column: 'open', value: 9 },
    ],
  },
  {
    question: 'Which countries had the most cancelled orders?',
    sqlReply: `Cancelled orders per customer country, with each country's total orders and cancellation rate for context.

\`\`\`sql
SELECT c.country,
       count(*) FILTER (WHERE o.status = 'cancelled') AS cancelled_orders,
       count(*) AS total_orders,
       round(100.0 * count(*) FILTER (WHERE o.status = 'cancelled') / count(*), 1) AS cancellation_rate_pct
FROM orders o
JOIN customers c ON c.id = o.customer_id
GROUP BY c.country
ORDER BY cancelled_orders DESC, c.country;
\`\`\``,
    analysisReply: `- The **United States** has the most cancelled orders, **37** of 856 (4.3%), mostly because it has by far the most orders.
- Canada follows with 14 (5.9%), then Germany and Spain with 13 each.
- Relative to volume, **Spain** stands out: **10.2%** of its 128 orders were cancelled, more than twice the US rate. Brazil is next at 7.7%.
- The Netherlands had no cancellations at all in 74 orders.
- Across all countries, 101 of 2,500 orders were cancelled.`,
    checks: [
      { row: 0, column: 'country', value: 'United States' },
      { row: 0, column: 'cancelled_orders', value: 37 },
      { row: 0, column: 'total_orders', value: 856 },
      { row: 0, column: 'cancellation_rate_pct', value: 4.3 },
      { row: 1, column: 'country', value: 'Canada' },
      { row: 1, column: 'cancelled_orders', value: 14 },
      { row: 1, column: 'cancellation_rate_pct', value: 5.9 },
      { row: 2, column: 'country', value: 'Germany' },
      { row: 2, column: 'cancelled_orders', value: 13 },
      { row: 3, column: 'country', value: 'Spain' },
      { row: 3, column: 'cancelled_orders', value: 13 },
      { row: 3, column: 'total_orders', value: 128 },
      { row: 3, column: 'cancellation_rate_pct', value: 10.2 },
      { row: 6, column: 'country', value: 'Brazil' },
      { row: 6, column: 'cancellation_rate_pct', value: 7.7 },
      { row: 9, column: 'country', value: 'Netherlands' },
      { row: 9, column: 'cancelled_orders', value: 0 },
      { row: 9, column: 'total_orders', value: 74 },
    ],
  },
];
