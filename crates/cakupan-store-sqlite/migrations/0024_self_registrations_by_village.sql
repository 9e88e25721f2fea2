-- A region page's self-registration funnel counts the area's self-registrations paid since a
-- day (issue #22): a range of the area's villages in this index, instead of every
-- self-registration of the window in the nation.
CREATE INDEX participants_self_village ON participants (village_code, registered_on) WHERE channel = 'self';
