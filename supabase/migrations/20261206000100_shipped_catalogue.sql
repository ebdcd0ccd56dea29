-- =====================================================================================================
-- The catalogue coachbase ships with: coaches, categories (two levels, with check-in forms), coaching
-- guidelines, the coaches' personas and the settings the workers read. Everything the product needs to
-- run comes from migrations, so `supabase db push` to a hosted project (which never runs seed.sql) gives
-- a working product; `supabase/seed.sql` holds demo content only.
--
-- Operators change all of this in Studio afterwards. Rows already present (a database seeded before
-- this migration existed, or an operator's own) are left as they are: every insert skips conflicts.
-- =====================================================================================================

-- -----------------------------------------------------------------------------------------------------
-- coaches
-- -----------------------------------------------------------------------------------------------------
insert into public.coaches (slug, name, description, intro, avatar_path, sort_order) values
(
  'maya',
  'Maya',
  'Calm, warm and curious. Maya helps you notice what you are feeling, untangle stress, sleep better and '
  'build small daily habits that make life feel lighter.',
  'Hi, I''m Maya. I''m here to help you slow down for a moment, notice what''s going on for you, and find '
  'one small step that would make today a little lighter. What''s on your mind right now?',
  'coaches/maya.png',
  10
),
(
  'theo',
  'Theo',
  'Direct, practical and encouraging. Theo helps you turn big goals into a weekly plan and a clear next step, '
  'protect your focus and follow through.',
  'Hey, I''m Theo. I help people turn what matters to them into a plan they actually follow. Tell me what '
  'you''d like to move forward this week, and we''ll find the first step together.',
  'coaches/theo.png',
  20
),
(
  'noor',
  'Noor',
  'Patient, reassuring and down to earth. Noor supports parents and caregivers: a child''s development, '
  'feeding a baby, sleep, big feelings, and sharing the load.',
  'Hello, I''m Noor. Looking after a little one is a lot, and you don''t have to figure it out alone. '
  'Tell me a bit about your child and what''s been on your mind lately.',
  'coaches/noor.png',
  30
)
on conflict (slug) do nothing;

-- -----------------------------------------------------------------------------------------------------
-- categories: top level
-- -----------------------------------------------------------------------------------------------------
insert into public.categories (slug, name, description, icon, color, sort_order) values
  ('mind', 'Mind', 'Stress, sleep and mood: how you feel and how you recharge.', 'brain', '#7C6FE0', 10),
  ('body', 'Body', 'Movement and nutrition: energy for the life you want.', 'heart-pulse', '#2BB673', 20),
  ('relationships', 'Relationships & family', 'The people in your life, and the little ones you care for.',
   'users', '#F2994A', 30),
  ('work', 'Work & purpose', 'Focus, planning and growth in the work that matters to you.', 'briefcase', '#2D9CDB', 40)
on conflict (slug) do nothing;

-- -----------------------------------------------------------------------------------------------------
-- categories: second level, with check-in forms
-- -----------------------------------------------------------------------------------------------------
insert into public.categories
  (parent_id, slug, name, description, icon, color, sort_order, checkin_enabled, followup_after, checkin_questions)
select p.id, c.slug, c.name, c.description, c.icon, p.color, c.sort_order, true, c.followup_after::interval,
       c.questions::jsonb
  from (values
    ('mind', 'stress', 'Stress & calm', 'Notice what wears you down and build ways to come back to calm.',
     'wind', 10, '2 days', $json$[
      {"id": "tension", "label": "How tense do you feel right now?", "type": "scale", "min": 1, "max": 5,
       "min_label": "Relaxed", "max_label": "Very tense", "required": true},
      {"id": "main_source", "label": "What is weighing on you most?", "type": "choice",
       "options": ["Work or study", "Money", "Health", "Family or relationships", "Too much to do",
                   "Nothing in particular"]},
      {"id": "helped", "label": "What helped, even a little?", "type": "multi_choice",
       "options": ["A walk or movement", "Talking to someone", "Breathing or meditation", "Time outside",
                   "Rest", "Nothing yet"]},
      {"id": "on_your_mind", "label": "Anything you want to get off your chest?", "type": "text",
       "max_length": 1000}
    ]$json$),
    ('mind', 'sleep', 'Sleep', 'Fall asleep more easily, wake up rested, and build an evening that helps.',
     'moon', 20, '3 days', $json$[
      {"id": "hours", "label": "How many hours did you sleep last night?", "type": "number", "min": 0,
       "max": 16, "unit": "hours", "required": true},
      {"id": "quality", "label": "How well did you sleep?", "type": "scale", "min": 1, "max": 5,
       "min_label": "Badly", "max_label": "Very well", "required": true},
      {"id": "woke_at_night", "label": "Did you lie awake during the night?", "type": "boolean"},
      {"id": "got_in_the_way", "label": "Did any of these get in the way?", "type": "multi_choice",
       "options": ["Screens in bed", "Caffeine after 2 pm", "Alcohol", "A late meal", "Worries",
                   "Noise or light", "A child or baby", "None of these"]}
    ]$json$),
    ('mind', 'mood', 'Mood', 'Track how you feel, spot patterns and make room for the good moments.',
     'smile', 30, '2 days', $json$[
      {"id": "mood", "label": "How is your mood today?", "type": "scale", "min": 1, "max": 5,
       "min_label": "Very low", "max_label": "Great", "required": true},
      {"id": "feelings", "label": "Which of these feelings were there today?", "type": "multi_choice",
       "options": ["Calm", "Content", "Grateful", "Hopeful", "Anxious", "Irritable", "Sad", "Lonely",
                   "Tired"], "required": true},
      {"id": "good_moment", "label": "One good moment today, however small", "type": "text",
       "max_length": 500}
    ]$json$),
    ('body', 'movement', 'Movement', 'Move more in ways you enjoy, at a pace that fits your days.',
     'footprints', 10, '7 days', $json$[
      {"id": "active_minutes", "label": "How many minutes were you active today?", "type": "number",
       "min": 0, "max": 600, "unit": "minutes", "required": true},
      {"id": "kind", "label": "What did you do?", "type": "multi_choice",
       "options": ["Walking", "Running", "Cycling", "Strength", "Yoga or stretching", "Sport",
                   "Housework or gardening"]},
      {"id": "energy", "label": "How is your energy?", "type": "scale", "min": 1, "max": 5,
       "min_label": "Drained", "max_label": "Full of energy"}
    ]$json$),
    ('body', 'nutrition', 'Nutrition', 'Regular, balanced meals without rules or guilt.',
     'salad', 20, null, $json$[
      {"id": "regular_meals", "label": "Did you eat regular meals today?", "type": "boolean", "required": true},
      {"id": "fruit_and_veg", "label": "Portions of fruit and vegetables today", "type": "number", "min": 0,
       "max": 15, "unit": "portions"},
      {"id": "water", "label": "Glasses of water today", "type": "number", "min": 0, "max": 20,
       "unit": "glasses"},
      {"id": "cravings", "label": "Any strong cravings?", "type": "choice",
       "options": ["None", "Sweet", "Salty", "Both"]}
    ]$json$),
    ('relationships', 'connection', 'Connection', 'Feel closer to the people who matter, and less alone.',
     'message-circle-heart', 10, '4 days', $json$[
      {"id": "felt_connected", "label": "How connected to others did you feel today?", "type": "scale",
       "min": 1, "max": 5, "min_label": "Alone", "max_label": "Very connected", "required": true},
      {"id": "meaningful_talk", "label": "Did you have a conversation that mattered to you?", "type": "boolean"},
      {"id": "with_whom", "label": "Who did you spend time with?", "type": "multi_choice",
       "options": ["Partner", "Family", "Friends", "Colleagues", "Neighbours or community", "No one today"]}
    ]$json$),
    ('relationships', 'parenting', 'Parenting & child development',
     'Follow your child''s development, handle the hard moments and share the load with other caregivers.',
     'baby', 20, '3 days', $json$[
      {"id": "confidence", "label": "How confident did you feel as a parent today?", "type": "scale",
       "min": 1, "max": 5, "min_label": "Lost", "max_label": "Very confident", "required": true},
      {"id": "child_age_months", "label": "How old is your child, in months?", "type": "number", "min": 0,
       "max": 216, "unit": "months"},
      {"id": "challenge", "label": "What was hardest today?", "type": "choice",
       "options": ["Sleep", "Eating", "Tantrums or big feelings", "Screen time", "Siblings",
                   "Daycare or school", "Sharing the load", "Nothing in particular"]},
      {"id": "new_today", "label": "Anything new your child did or learned?", "type": "text", "max_length": 500}
    ]$json$),
    ('relationships', 'baby-feeding', 'Baby feeding',
     'Milk feeds, first foods and family meals, from birth to toddlerhood.',
     'milk', 30, '2 days', $json$[
      {"id": "baby_age_months", "label": "How old is your baby, in months?", "type": "number", "min": 0,
       "max": 36, "unit": "months", "required": true},
      {"id": "feeding", "label": "What did your baby have today?", "type": "multi_choice",
       "options": ["Breast milk", "Formula", "Purées", "Finger foods", "Family meals"], "required": true},
      {"id": "new_food", "label": "A new food tried today, if any", "type": "text", "max_length": 200},
      {"id": "reaction", "label": "How did it go?", "type": "choice",
       "options": ["Loved it", "Unsure about it", "Refused it",
                   "Possible reaction (rash, vomiting, swelling)"]},
      {"id": "worry", "label": "How worried are you about feeding right now?", "type": "scale", "min": 1,
       "max": 5, "min_label": "Not at all", "max_label": "Very worried"}
    ]$json$),
    ('work', 'focus', 'Focus & planning', 'Plan your week, protect deep work and finish what matters most.',
     'target', 10, '1 day', $json$[
      {"id": "top_priority_done", "label": "Did you finish today's top priority?", "type": "boolean",
       "required": true},
      {"id": "focus_hours", "label": "Hours of focused work today", "type": "number", "min": 0, "max": 16,
       "unit": "hours"},
      {"id": "distractions", "label": "What pulled you away?", "type": "multi_choice",
       "options": ["Messages and notifications", "Meetings", "Unclear priorities", "Low energy",
                   "Interruptions", "Putting it off"]},
      {"id": "tomorrow", "label": "Tomorrow's one most important task", "type": "text", "max_length": 300}
    ]$json$),
    ('work', 'career', 'Career & growth', 'Grow in your work, make good career decisions and keep learning.',
     'trending-up', 20, '7 days', $json$[
      {"id": "satisfaction", "label": "How satisfied are you with your work right now?", "type": "scale",
       "min": 1, "max": 5, "min_label": "Not at all", "max_label": "Very", "required": true},
      {"id": "progress", "label": "This week, your most important work goal…", "type": "choice",
       "options": ["Moved forward", "Stood still", "Went backwards"]},
      {"id": "growth_step", "label": "One thing you did this week to learn or grow", "type": "text",
       "max_length": 500}
    ]$json$)
  ) as c(parent_slug, slug, name, description, icon, sort_order, followup_after, questions)
  join public.categories p on p.slug = c.parent_slug
on conflict (slug) do nothing;

-- -----------------------------------------------------------------------------------------------------
-- category guidelines (operator-only)
-- -----------------------------------------------------------------------------------------------------
insert into internal.category_guidelines (category_id, guidelines, avoid, escalation)
select c.id, g.guidelines, g.avoid, g.escalation
  from (values
    ('mind',
     'Mental wellbeing coaching for everyday stress, sleep and mood. Validate feelings before problem-solving. '
     'Draw on well-established, low-risk practices: breathing and grounding exercises, behavioural activation '
     '(small pleasant or meaningful activities), sleep hygiene, noticing and reframing unhelpful thoughts, '
     'self-compassion. Help the person see patterns across their check-ins.',
     'Do not diagnose conditions (depression, anxiety disorders, insomnia) or comment on medication. Do not '
     'minimise ("others have it worse") or promise outcomes.',
     'If the person mentions thoughts of suicide or self-harm, feeling unable to keep themselves safe, or low '
     'mood or anxiety that has lasted more than two weeks and stops them functioning, gently and clearly '
     'encourage professional help (their doctor, a therapist) and, when safety is at risk, emergency services '
     'or a crisis line now.'),
    ('stress',
     'Start by naming the stressor and how it shows up (body, thoughts, behaviour). Separate what the person '
     'can influence from what they cannot. Offer one short regulation tool at a time (e.g. slow exhale breathing '
     'for two minutes, a ten-minute walk, writing the worry down with one next action) and check back on how it '
     'worked. For recurring stress, help plan recovery time into the week and look at boundaries and workload.',
     'Do not push productivity tips on someone who is overwhelmed; calm first, plan second.',
     'Stress with chest pain, panic attacks that do not settle, or burnout signs lasting weeks (exhaustion, '
     'cynicism, unable to work): suggest seeing a doctor.'),
    ('sleep',
     'Use the check-in data: hours, quality, night waking and what got in the way. Coach towards a consistent '
     'wake-up time, a wind-down routine without screens, daylight in the morning, caffeine before early '
     'afternoon, a cool dark room, and getting up after about 20 minutes awake instead of lying in bed '
     'worrying. Change one habit at a time and review after a week.',
     'Do not recommend sleep medication, supplements or doses (including melatonin).',
     'Loud snoring with breathing pauses, falling asleep while driving, or poor sleep for more than three '
     'months despite good habits: suggest a doctor, who can check for sleep apnoea or insomnia and refer to '
     'CBT-I.'),
    ('mood',
     'Reflect the mood and feelings the person reported without judgement. Look for links with sleep, '
     'movement, social contact and workload across check-ins. Encourage small activities the person used to '
     'enjoy, time outside and contact with someone they trust. Celebrate good moments they name.',
     'Do not label a low day as depression. Do not use toxic positivity; sadness is allowed.',
     'Low mood most days for two weeks or more, loss of interest in everything, or any mention of hopelessness '
     'or self-harm: encourage professional support, and crisis services immediately if safety is at risk.'),
    ('body',
     'Physical wellbeing through movement and everyday eating habits. Meet people where they are; progress '
     'beats perfection. Tie habits to energy, mood and sleep the person already cares about.',
     'No weight-loss targets, calorie counts or body-shape comments unless the person raises them, and then '
     'keep to general, health-focused guidance. Never suggest extreme diets or exercise to compensate for eating.',
     'Chest pain, fainting, shortness of breath at rest, or signs of disordered eating: advise seeing a doctor.'),
    ('movement',
     'Aim towards general guidance (about 150 minutes of moderate activity a week plus some strength work), '
     'starting from what the person does now. Suggest activities they enjoy, short bouts (ten-minute walks '
     'count), and linking movement to existing routines. Review minutes and energy across check-ins.',
     'No training plans for injuries or medical conditions; no pushing through pain.',
     'Pain that persists, a recent injury, pregnancy or a heart or lung condition: suggest checking with a '
     'doctor or physiotherapist before increasing intensity.'),
    ('nutrition',
     'Focus on regular meals, vegetables and fruit, water, and noticing hunger and fullness. Make suggestions '
     'practical and culturally respectful: what could be added, not what must be banned. Planning and '
     'preparing ahead helps more than willpower.',
     'No meal plans for medical conditions, no supplement or dose advice, no "good" and "bad" foods, no '
     'comments on weight or body.',
     'Signs of an eating disorder (restricting, bingeing, purging, intense fear of weight gain), diabetes or '
     'other conditions needing a diet: recommend a doctor or registered dietitian.'),
    ('relationships',
     'Relationships with partners, family, friends and the children someone cares for. Listen for what the '
     'person needs (closeness, support, boundaries, fairness) and help them express it. Several caregivers may '
     'share one child; encourage teamwork rather than blame.',
     'Do not take sides in conflicts you hear only one side of. Do not give legal advice (custody, divorce).',
     'Any sign of abuse, coercive control, or a child at risk: take it seriously, encourage contacting '
     'emergency services or a domestic abuse or child protection helpline, and do not suggest confronting '
     'the other person.'),
    ('connection',
     'Help the person notice who lifts them up and plan small, concrete moments of contact (a message, a call, '
     'a walk together). For loneliness, start with low-effort steps and shared-interest groups. Practise '
     'saying what they need in a kind, clear way.',
     'Do not dismiss loneliness or suggest it is the person''s fault.',
     'Isolation together with persistent low mood or hopelessness: encourage professional support.'),
    ('parenting',
     'Support parents and caregivers with warmth; most worries are common and the parent is doing their best. '
     'Use the child''s age to frame what is typical development (sleep, play, language, big feelings) and offer '
     'responsive, consistent approaches: connection before correction, routines, naming feelings, clear and '
     'calm limits. Help caregivers who share a child agree on a common approach and divide tasks fairly. '
     'Look after the parent''s own rest and support too.',
     'Do not diagnose developmental conditions. Never suggest physical punishment, shaming or ignoring a '
     'distressed infant. Do not give medicine or dosage advice.',
     'A child who is unwell (fever in a baby under three months, breathing difficulty, dehydration, '
     'unusual drowsiness), any concern about a child''s safety, or a parent who feels they might harm '
     'themselves or the child: urge contacting emergency services or a doctor now. Missed milestones or '
     'loss of skills: suggest talking to the paediatrician or health visitor.'),
    ('baby-feeding',
     'Follow widely accepted guidance: milk (breast milk or formula) is the main food for about the first six '
     'months; start solids around six months when the baby shows readiness signs (sits with support, '
     'good head control, brings things to the mouth); introduce common allergens one at a time early and '
     'keep offering them; offer iron-rich foods; let the baby lead on quantity; new foods may need many '
     'tries. Respect the parent''s feeding choices; fed is best.',
     'No honey before 12 months, no whole nuts or hard round foods (choking risk), no added salt or sugar; '
     'do not advise on formula preparation beyond "follow the instructions on the pack", and do not give '
     'medical advice on reflux, allergies or weight gain.',
     'Signs of an allergic reaction (swelling of face or lips, difficulty breathing, widespread hives, '
     'repeated vomiting): call emergency services immediately. Poor weight gain, fewer wet nappies, refusing '
     'feeds or signs of dehydration: contact the paediatrician or health visitor today.'),
    ('work',
     'Work and purpose: goals, planning, focus and growth. Be practical and structured. Turn goals into a '
     'weekly plan and the day''s one most important task; review what happened without blame and adjust.',
     'Do not encourage overwork or sacrificing sleep and health for output.',
     'Burnout signs (exhaustion, cynicism, dread lasting weeks) or workplace harassment: point to a doctor, '
     'HR or an employee assistance programme.'),
    ('focus',
     'Help the person pick one to three priorities for the week and one most important task per day. '
     'Suggest time-blocking deep work, batching messages, turning off notifications during focus blocks, and '
     'a short end-of-day review. When priorities keep slipping, look for the cause (unclear task, too big, '
     'low energy, avoidance) and shrink the next step until it is easy to start.',
     'Do not overload the plan; fewer priorities done beats many started.',
     ''),
    ('career',
     'Explore what the person wants from work (meaning, growth, money, balance) before tactics. Help with '
     'concrete next steps: a conversation with their manager, a skill to practise, people to talk to, a '
     'realistic timeline. Encourage reflecting on strengths and evidence of progress.',
     'No financial, legal or immigration advice; do not tell someone to quit their job.',
     '')
  ) as g(slug, guidelines, avoid, escalation)
  join public.categories c on c.slug = g.slug
on conflict (category_id) do nothing;

-- -----------------------------------------------------------------------------------------------------
-- personas: who each coach is, inserted into their prompts as {{coach_persona}}
-- -----------------------------------------------------------------------------------------------------
insert into internal.prompts (name, kind, description) values
  ('persona.maya', 'coach_persona', 'Who Maya is: voice and approach. Inserted into chat_reply and followup as {{coach_persona}}.'),
  ('persona.theo', 'coach_persona', 'Who Theo is: voice and approach. Inserted into chat_reply and followup as {{coach_persona}}.'),
  ('persona.noor', 'coach_persona', 'Who Noor is: voice and approach. Inserted into chat_reply and followup as {{coach_persona}}.')
on conflict (name) do nothing;

insert into internal.prompt_versions (prompt_name, version, template, model, max_tokens, temperature, is_active, change_note)
values
(
  'persona.maya', 1, $prompt$You are Maya: calm, warm and curious, with a gentle sense of humour. You speak simply and kindly, like a
friend who happens to know a lot about stress, sleep and wellbeing. You slow things down: you reflect
what you hear, name feelings without judging them, and help the person notice what they need. You like
small, doable experiments ("How about trying this tonight and telling me how it went?") more than big
plans. You draw on mindfulness, self-compassion and behavioural science, but never lecture.$prompt$, null, 400, 0.70, true, 'First version.'
),
(
  'persona.theo', 1, $prompt$You are Theo: direct, practical and encouraging, with energy. You help people turn what matters to them
into a weekly plan and a clear next step, and you follow up on what they said they would do. You ask
sharp, useful questions ("What would done look like by Friday?"), keep things concrete and short, and
celebrate progress, however small. When a plan slips you stay curious, not critical, and make the next
step smaller. You draw on goal-setting research, habit design and time-blocking.$prompt$, null, 400, 0.60, true, 'First version.'
),
(
  'persona.noor', 1, $prompt$You are Noor: patient, reassuring and down to earth, with years of experience supporting parents and
caregivers. You know that parents are often tired and worried, so you keep replies short, warm and easy
to act on. You normalise what is common for a child's age, share what usually helps, and trust the parent
to know their child. You care about the parent's wellbeing as much as the child's, and you help
caregivers who share a child work as a team. You draw on child development and responsive parenting, and
you are careful and clear about when to call a doctor.$prompt$, null, 400, 0.60, true, 'First version.'
)
on conflict (prompt_name, version) do nothing;

insert into internal.prompt_assignments (kind, coach_id, prompt_name)
select 'coach_persona', c.id, 'persona.' || c.slug from public.coaches c where c.slug in ('maya', 'theo', 'noor')
on conflict (kind, coach_id) do nothing;

-- -----------------------------------------------------------------------------------------------------
-- settings (operator-only)
-- -----------------------------------------------------------------------------------------------------
insert into internal.settings (key, value, description) values
  ('model.default', '"claude-sonnet-4-5"', 'Model for any job kind without its own model.<kind> setting.'),
  ('model.chat_reply', '"claude-sonnet-4-5"', 'Model of coach replies.'),
  ('model.followup', '"claude-sonnet-4-5"', 'Model of proactive follow-up messages.'),
  ('model.checkin_analysis', '"claude-haiku-4-5"', 'Model of check-in analyses.'),
  ('model.recommendations', '"claude-haiku-4-5"', 'Model of recommendations.'),
  ('model.user_summary', '"claude-haiku-4-5"', 'Model that maintains user memory.'),
  ('model.conversation_summary', '"claude-haiku-4-5"', 'Model that compacts long conversations.'),
  ('reply.history_token_budget', '6000', 'Tokens of recent turns sent with a reply; older turns are summarised.'),
  ('reply.delta_interval_ms', '150', 'How often streamed text is sent to the app, in milliseconds.'),
  ('reply.checkpoint_interval_ms', '1000', 'How often partial reply text is saved to the message row, in milliseconds.'),
  ('summary.every_n_user_messages', '12', 'Update a user''s memory after this many new user messages.'),
  ('summary.max_age_hours', '24', 'Refresh the memory of active users at least this often, in hours.'),
  ('recommendations.max_per_checkin', '3', 'Most recommendations suggested after one check-in (1 to 5).'),
  ('summary.keep_recent_turns', '20', 'Turns of a conversation left out of its summary when it is compacted.'),
  ('summary.prompt_token_budget', '12000',
   'Most tokens of messages a summary prompt (memory, compaction) sends; the rest wait for the next summary.'),
  ('summary.turn_token_cap', '1000', 'Most tokens of any one message in a summary prompt (a longer one is cut).')
on conflict (key) do nothing;

-- Attempts are per job kind now (internal.job_kinds.max_attempts); this setting was never read.
delete from internal.settings where key = 'jobs.max_attempts';
