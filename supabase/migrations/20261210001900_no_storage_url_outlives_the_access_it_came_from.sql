-- =====================================================================================================
-- No Storage URL outlives the access it was made with.
-- Signed URLs are stateless tokens whose lifetime the caller chooses; Storage checks the policies when
-- one is made, never when it is used.
-- * Share links: the holder of a link's token could sign the link's files for ten years, and the URLs
--   kept working after the link was revoked or expired (20261207000800 assumed the 60 s the app asks
--   for). A link's files are now read only by requests that carry the token (supabase-js `download()`
--   with the `x-share-token` header), checked on every request; signing under the link is refused.
-- * Signed upload URLs (valid two hours, written as the service without a policy check when used): a
--   caregiver removed from a child, or made a viewer, could still overwrite or add the child's files
--   through URLs made before. Making one for a child's folder is refused; members upload with their own
--   token, which the policies check on every upload.
-- storage-api runs each request's queries with `request.path` set to the route (as the devstack does),
-- so the policies tell signing from reading and uploading.
-- =====================================================================================================

drop policy "Share links open their files" on storage.objects;
create policy "Share links open their files" on storage.objects for select to anon
  using (bucket_id in ('child-reports', 'child-documents') and access.shared_object(bucket_id, name)
         and coalesce(current_setting('request.path', true), '') not like '%/object/sign/%');

drop policy "Owners and caregivers upload their children's files" on storage.objects;
create policy "Owners and caregivers upload their children's files" on storage.objects for insert to authenticated
  with check (bucket_id in ('child-documents', 'child-videos')
              and (storage.foldername(name))[1] = any ((select access.member_child_ids('caregiver'))::text[])
              and coalesce(current_setting('request.path', true), '') not like '%/object/upload/sign/%');

drop policy "Owners and caregivers replace their children's files" on storage.objects;
create policy "Owners and caregivers replace their children's files" on storage.objects for update to authenticated
  using (bucket_id in ('child-documents', 'child-videos')
         and (storage.foldername(name))[1] = any ((select access.member_child_ids('caregiver'))::text[]))
  with check (bucket_id in ('child-documents', 'child-videos')
              and (storage.foldername(name))[1] = any ((select access.member_child_ids('caregiver'))::text[])
              and coalesce(current_setting('request.path', true), '') not like '%/object/upload/sign/%');
