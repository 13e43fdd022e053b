-- Row count of every table and a checksum of the money tables: written next to each backup
-- (deploy/backup.sh) and compared after a restore (deploy/restore.sh). Output: "name<TAB>value".
-- Money tables that do not exist (a plugin not installed) are left out.
SELECT 'rows:' || table_name,
       (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM public.%I', table_name),
                                            false, true, '')))[1]::text
  FROM information_schema.tables
 WHERE table_schema = 'public' AND table_type = 'BASE TABLE'
UNION ALL
SELECT 'md5:' || t,
       (xpath('/row/c/text()', query_to_xml(
           format('SELECT coalesce(md5(string_agg(x::text, E''\n'' ORDER BY x::text)), ''empty'') AS c FROM public.%I x', t),
           false, true, '')))[1]::text
  FROM unnest(ARRAY['payments_payment', 'payments_ledgerentry', 'payments_refund',
                    'payments_cashreconciliation', 'payments_commissionstatement',
                    'order_order', 'order_line', 'group_orders_pledge']) AS t
 WHERE to_regclass('public.' || t) IS NOT NULL
 ORDER BY 1;
