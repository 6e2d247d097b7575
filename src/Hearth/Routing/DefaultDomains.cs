using Hearth.Configuration;

namespace Hearth.Routing;

/// <summary>
/// The domains Hearth routes between when <c>hearth.yaml</c> has no <c>domains</c>: healthcare, business, education,
/// creative, leadership, and <c>general</c> as the fallback. Each has a description and example queries written for
/// Hearth (none of them appear in the evaluation set, samples/router/eval.jsonl). Every default domain runs
/// <c>models.default</c> on the embedded engine, so all are local.
/// </summary>
public static class DefaultDomains
{
    /// <summary>The default domains for <paramref name="config"/> (model: <c>models.default</c>; healthcare takes <c>healthcare.compliance_mode</c>).</summary>
    /// <param name="config">The configuration.</param>
    /// <returns>The domains, fallback last.</returns>
    public static IReadOnlyList<DomainOptions> Create(HearthConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var model = config.Models.Default;
        return
        [
            new DomainOptions
            {
                Name = "healthcare",
                Description = "Health, medicine and care: symptoms, conditions, diagnosis, medication and dosage, treatment, patients, doctors, nurses, hospitals, clinics, mental health, nutrition and wellbeing. Topics: illness, disease, infection, virus, bacteria, fever, cough, cold, flu, pain, ache, headache, migraine, rash, allergy, asthma, diabetes, insulin, blood pressure, hypertension, cholesterol, heart, cardiac, stroke, cancer, tumour, tumor, chemotherapy, oncology, surgery, operation, anaesthesia, recovery, rehabilitation, physiotherapy, fracture, bone, joint, arthritis, injury, wound, burn, bleeding, vaccine, vaccination, immunisation, antibiotic, antiviral, painkiller, prescription, pharmacy, drug, tablet, pill, side effect, interaction, overdose, dose, GP, physician, specialist, cardiologist, dermatologist, paediatrician, nurse, midwife, pregnancy, pregnant, prenatal, postnatal, baby, infant, toddler, child health, elderly care, caregiver, dementia, Alzheimer's, kidney, liver, lung, breathing, pneumonia, bronchitis, COPD, thyroid, hormone, blood test, lab results, scan, X-ray, ultrasound, ECG, biopsy, screening, anaemia, vitamin, supplement, diet, obesity, weight loss, sleep, insomnia, apnea, anxiety, depression, therapy, psychiatry, antidepressant, stomach, nausea, vomiting, diarrhoea, constipation, digestion, skin, eye, ear, dental, tooth, emergency room, ambulance, ICU, intensive care, sepsis, contagious, symptom, syndrome, chronic, acute, inflammation, swelling, numbness, dizziness, fatigue, medical, clinical, health.",
                Model = model,
                ComplianceMode = config.Healthcare.ComplianceMode,
                Empathetic = true,
                Examples =
                [
                    "What are the early symptoms of type 2 diabetes?",
                    "Can I take ibuprofen together with my blood pressure medication?",
                    "My child has had a fever of 39 degrees since yesterday, should I see a doctor?",
                    "How should a nurse document a patient's pain assessment?",
                    "What is the usual dose of amoxicillin for an adult with a sinus infection?",
                    "Explain the difference between a CT scan and an MRI.",
                    "I have chest pain and shortness of breath when I climb stairs.",
                    "What are the side effects of starting an SSRI antidepressant?",
                    "How is high cholesterol treated besides statins?",
                    "Summarise the discharge instructions after knee replacement surgery.",
                    "What vaccinations does a healthy 65 year old need?",
                    "How do I care for a wound with stitches so it does not get infected?",
                    "What lab results indicate kidney disease?",
                    "Ways to manage chronic lower back pain without opioids.",
                    "I've been feeling anxious and can't sleep for weeks, what can help?",
                    "What diet is recommended for someone with high blood pressure?",
                    "How long is someone contagious with the flu?",
                    "Draft a note to a patient explaining their new insulin schedule.",
                    "What are the warning signs of a stroke?",
                    "Is a rash with blisters after a new medicine an allergic reaction?",
                    "How often should a pregnant woman have prenatal checkups?",
                    "Help me understand my thyroid test results.",
                ],
            },
            new DomainOptions
            {
                Name = "business",
                Description = "Business and commerce: companies, customers, sales, marketing, revenue, profit, budgets, finance and accounting, pricing, strategy, markets, startups, contracts, operations, supply chain. Topics: company, firm, enterprise, small business, startup, founder, investor, investment, funding, venture capital, equity, shares, valuation, loan, bank, credit, debt, interest, cash flow, revenue, income, sales, profit, margin, loss, cost, expense, overhead, budget, forecast, accounting, bookkeeping, invoice, payment, receivable, payable, tax, VAT, payroll, balance sheet, income statement, financial statement, audit, ROI, KPI, metrics, growth, market, market share, competitor, competition, customer, client, consumer, buyer, B2B, B2C, e-commerce, online store, retail, wholesale, distribution, supplier, vendor, procurement, inventory, stock, warehouse, logistics, shipping, supply chain, manufacturing, product, service, pricing, price, discount, subscription, churn, retention, loyalty, acquisition, conversion, funnel, pipeline, lead, prospect, deal, negotiation, contract, agreement, terms, legal entity, LLC, corporation, partnership, merger, acquisition, franchise, brand, branding, marketing, advertising, ads, campaign, SEO, social media, email marketing, press release, proposal, pitch, business plan, strategy, SWOT, operations, efficiency, consulting, agency, freelance, CRM, SaaS, commercial, monetise, economics of the business.",
                Model = model,
                Examples =
                [
                    "Write a go-to-market plan for a new SaaS product aimed at small accounting firms.",
                    "How do I calculate customer acquisition cost and lifetime value?",
                    "Draft a cold sales email to a procurement manager at a logistics company.",
                    "What should a startup include in its pitch deck for seed investors?",
                    "Compare subscription pricing with usage-based pricing for our API.",
                    "Summarise this quarter's revenue, gross margin and operating expenses.",
                    "How can we reduce churn among our enterprise customers?",
                    "Create a SWOT analysis for a regional coffee chain.",
                    "What are the key clauses in a supplier contract?",
                    "Forecast cash flow for the next twelve months given these invoices.",
                    "How do I price a consulting engagement for a mid-size client?",
                    "Explain EBITDA and why investors look at it.",
                    "Suggest ways to cut inventory costs in our warehouse.",
                    "Write a product description for our online store's best-selling item.",
                    "What marketing channels work best for a B2B software company?",
                    "How should we respond to a competitor lowering their prices by 20%?",
                    "Prepare a board update on sales pipeline and bookings.",
                    "What is the difference between gross profit and net profit?",
                    "Draft terms and conditions for a small e-commerce shop.",
                    "How do I register a limited company and open a business bank account?",
                    "Analyse our market share against the three largest competitors.",
                    "Outline a customer onboarding process for new accounts.",
                ],
            },
            new DomainOptions
            {
                Name = "education",
                Description = "Education, teaching and learning: students, teachers, school, university, lessons, homework, exams, curriculum, explaining concepts in maths, science, history and languages, study skills. Topics: teacher, tutor, student, pupil, learner, classroom, class, lesson, lesson plan, unit, syllabus, curriculum, course, lecture, seminar, school, primary, secondary, high school, kindergarten, college, university, degree, thesis, dissertation, essay, assignment, homework, worksheet, quiz, test, exam, revision, grade, grading, rubric, assessment, feedback on students, study, studying, learn, learning, teach, teaching, pedagogy, tutoring, homeschooling, scholarship, academic, research paper, citation, literature review, mathematics, maths, math, algebra, geometry, calculus, trigonometry, statistics, probability, arithmetic, fractions, decimals, equation, theorem, proof, science, physics, chemistry, biology, geography, history, civics, economics class, literature, poetry analysis, grammar, vocabulary, spelling, reading, writing skills, language learning, French, Spanish, German, Japanese, English, phonics, coding for beginners, periodic table, cell, atom, molecule, energy, force, gravity, electricity, evolution, ecosystem, revolution, war, empire, civilisation, explain concept, concept, definition, formula, practice problems, exercises, flashcards, memorise, special educational needs, dyslexia, ADHD in class.",
                Model = model,
                Examples =
                [
                    "Explain photosynthesis to a ten year old.",
                    "Create a lesson plan on fractions for a fourth grade class.",
                    "How do I solve a quadratic equation by completing the square?",
                    "What caused the First World War? Give me the main points for my history essay.",
                    "Make ten practice questions on the French past tense.",
                    "What are good study techniques for memorising vocabulary before an exam?",
                    "Explain Newton's second law with an everyday example.",
                    "How should I structure a persuasive essay for my English class?",
                    "Write a rubric for grading a high school science project.",
                    "What is the difference between mitosis and meiosis?",
                    "Help me understand derivatives in calculus step by step.",
                    "Suggest activities to teach the water cycle in primary school.",
                    "How can teachers support students with dyslexia in the classroom?",
                    "Give me a revision timetable for final exams in six subjects.",
                    "Explain how the periodic table is organised.",
                    "What is a good way to introduce programming to beginners at university?",
                    "Quiz me on the capitals of European countries.",
                    "How do I cite sources in APA format for my dissertation?",
                    "Explain the causes of the French Revolution for a class presentation.",
                    "What does the Pythagorean theorem say, and how is it proven?",
                    "Design a homework assignment about probability with dice.",
                    "How do I prepare for a university entrance interview?",
                ],
            },
            new DomainOptions
            {
                Name = "creative",
                Description = "Creative writing and art: stories, poems, song lyrics, fiction, characters, plots, screenplays, worldbuilding, brainstorming names and ideas, drawing, music and design. Topics: story, short story, tale, fairy tale, fable, myth, legend, novel, novella, fiction, fantasy, science fiction, sci-fi, horror, mystery, thriller, romance, adventure, comedy, humour, poem, poetry, verse, rhyme, haiku, sonnet, limerick, ballad, lyrics, song, chorus, melody, music, composition, rap, screenplay, script, scene, dialogue, monologue, play, film, plot, twist, character, protagonist, villain, hero, backstory, setting, world, worldbuilding, magic, dragon, wizard, witch, elf, alien, robot, ghost, creature, kingdom, imaginary, invent, imagine, narrative, narrator, prose, chapter, prologue, ending, opening line, writing prompt, writer's block, creative, brainstorm, names, title, art, painting, drawing, illustration, sketch, colour palette, design, logo, comic, graphic novel, animation, photography, mural, craft, role-playing, campaign, game master, describe vividly, imagery, metaphor in writing, style, tone, mood, lyrical, whimsical, dark, gothic, noir, steampunk, cyberpunk, dystopian, bedtime story, picture book, children's story.",
                Model = model,
                Examples =
                [
                    "Write a short story about a lighthouse keeper who finds a message in a bottle.",
                    "Compose a haiku about the first snow of winter.",
                    "Give me ideas for a fantasy novel with an unusual magic system.",
                    "Write song lyrics about driving home at night.",
                    "Describe a villain whose motives the reader can sympathise with.",
                    "Help me outline the three acts of a science fiction screenplay.",
                    "Brainstorm names for a band that plays dreamy synth pop.",
                    "Write a poem in the style of a sonnet about the sea.",
                    "Create a setting for a mystery set in a 1920s train.",
                    "Continue this story: the door creaked open and nobody was there.",
                    "Suggest a colour palette for a watercolour painting of autumn woods.",
                    "Write dialogue between two old friends meeting after twenty years.",
                    "Invent a mythical creature and describe its habitat.",
                    "Give me a writing prompt for a flash fiction piece.",
                    "Rewrite this paragraph to sound more lyrical and vivid.",
                    "Write a children's bedtime story about a brave little hedgehog.",
                    "Design a logo concept for a handmade candle shop.",
                    "Help me develop the backstory of my main character.",
                    "Write a limerick about a cat who loves cheese.",
                    "What are ways to overcome writer's block?",
                    "Create a world map description for a tabletop role-playing campaign.",
                    "Suggest a chord progression for a melancholy ballad.",
                ],
            },
            new DomainOptions
            {
                Name = "leadership",
                Description = "Leadership and management of people: leading teams, managers, feedback, coaching, delegation, motivation, hiring, performance reviews, conflict, culture, change management, executive decisions. Topics: leader, leadership, lead, manager, management, managing people, boss, supervisor, director, executive, CEO, head of department, team lead, team, direct report, employee, staff, colleague, peer, report, one-on-one, meeting, all-hands, feedback, praise, recognition, criticism, coaching, mentoring, mentor, development, growth, career, promotion, succession, hiring, interviewing, onboarding, firing, layoffs, termination, performance, performance review, appraisal, underperformance, accountability, expectations, goals, objectives, OKRs, priorities, delegation, delegate, empowerment, ownership, trust, respect, motivation, engagement, morale, burnout, wellbeing at work, culture, values, vision, mission, inclusion, diversity, psychological safety, conflict, disagreement, tension, toxic behaviour, gossip, politics, communication, difficult conversation, bad news, transparency, change management, restructuring, reorganisation, transformation, resistance, influence, stakeholders, buy-in, decision making, decisiveness, crisis, uncertainty, remote team, hybrid work, retrospective, emotional intelligence, empathy, listening, authority, micromanagement, executive presence, servant leadership, management style, organisation.",
                Model = model,
                Examples =
                [
                    "How do I give constructive feedback to an underperforming team member?",
                    "What makes a one-on-one meeting with a direct report effective?",
                    "How should a new manager earn the trust of a team they inherited?",
                    "Two senior engineers on my team keep arguing in meetings; how do I handle it?",
                    "How can I delegate more without losing control of quality?",
                    "Write a performance review for a strong employee who needs to grow as a leader.",
                    "How do I keep my team motivated during a long restructuring?",
                    "What questions should I ask when interviewing a candidate for a team lead role?",
                    "How do I communicate layoffs to the rest of the team with honesty?",
                    "What is servant leadership and when does it work?",
                    "How can I build a culture of psychological safety?",
                    "My manager micromanages me; how do I raise it with them?",
                    "How should an executive team set priorities for the year?",
                    "Ways to run a productive team retrospective.",
                    "How do I coach someone who wants to be promoted to manager?",
                    "How do I lead a remote team spread over several time zones?",
                    "What should I do when a high performer is toxic to colleagues?",
                    "How do I lead my department through a major organisational change?",
                    "Tips for my first week as a CEO of a small company.",
                    "How do I set clear goals and expectations for my direct reports?",
                    "How do I handle a team member who missed deadlines repeatedly?",
                    "What leadership style fits a fast-growing team?",
                ],
            },
            new DomainOptions
            {
                Name = DomainRouter.FallbackDomain,
                Description = "General assistant for anything the other domains do not cover.",
                Model = model,
                Empathetic = true,
            },
        ];
    }
}
