-- The language ccbridge spoke to a visitor (en, de, fr, es: the form's locale, else the one
-- negotiated from Accept-Language), kept with the signup's consent record beside the raw
-- Accept-Language choice (`language`), so that the confirmation mail and the confirmation pages
-- speak it too. Null for signups made before it was kept (English).
alter table consent_records add column page_language text;
