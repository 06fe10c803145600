-- pgbench: what POST /transactions sends for a withdrawal of 1, in the same transaction: BEGIN, the one
-- movement statement (TransactionRepository.move_stock in src/suppliers/inventory/repositories.py, with
-- the qualification pairs the rule allows), COMMIT. Product ids are uuids, so a random product is picked
-- through bench_products (n -> id, a primary-key lookup) inside the statement: no extra round trip.
\set n random(1, :products)
BEGIN;
WITH facts AS (SELECT (SELECT required_qualification FROM products WHERE id = (SELECT id FROM bench_products WHERE n = :n)) AS required, (SELECT qualification FROM vendors WHERE id = :vendor) AS held), line AS (INSERT INTO transactions (id, product_id, vendor_id, action, quantity) SELECT gen_random_uuid(), (SELECT id FROM bench_products WHERE n = :n), CAST(:vendor AS uuid), 'withdrawal', 1 FROM facts WHERE facts.held || '>' || facts.required = ANY('{A>A,A>B,A>C,B>B,B>C,C>C}'::text[]) ON CONFLICT (id, product_id) DO NOTHING RETURNING transaction_date), stock AS (UPDATE products SET quantity = quantity - 1 WHERE id = (SELECT id FROM bench_products WHERE n = :n) AND quantity >= 1 AND EXISTS (SELECT FROM line) RETURNING quantity) SELECT facts.required, facts.held, (SELECT transaction_date FROM line), (SELECT quantity FROM stock) FROM facts;
COMMIT;
