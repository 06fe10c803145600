-- pgbench: the statements POST /transactions runs for a withdrawal of 1, in the same transaction
-- (see ProductRepository.qualifications/withdraw and TransactionRepository.insert_new in
-- src/suppliers/inventory/repositories.py). Product ids are uuids, so a random product is picked
-- through bench_products (n -> id, a primary-key lookup) inside each statement: no extra round trip.
\set n random(1, :products)
BEGIN;
SELECT (SELECT required_qualification FROM products WHERE id = (SELECT id FROM bench_products WHERE n = :n)), (SELECT qualification FROM vendors WHERE id = :vendor);
INSERT INTO transactions (id, product_id, vendor_id, action, quantity) VALUES (gen_random_uuid(), (SELECT id FROM bench_products WHERE n = :n), :vendor, 'withdrawal', 1) ON CONFLICT (id, product_id) DO NOTHING RETURNING transaction_date;
UPDATE products SET quantity = quantity - 1 WHERE id = (SELECT id FROM bench_products WHERE n = :n) AND quantity >= 1 RETURNING quantity;
COMMIT;
