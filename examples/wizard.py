"""A wizard agent: `/signup` (in a DM or a group) runs a two-step flow in a DM with the asker, its progress in
Postgres so it survives a router restart and goes on in any replica.

    /signup          -> (in a DM with you) an Actions message "Pick a plan": Free / Pro / Cancel
    a plan           -> (an Intent from the buttons, or the text "free" / "pro") "Your name?"
    a name           -> "welcome <name>, you are on the <plan> plan"
    /cancel          -> "signup cancelled"

Run it: `switchboard router --app examples.wizard:agent` (DATABASE_URL names the Postgres database;
XMTP_DB_ENCRYPTION_KEY or SB_ROUTER_STATE_KEY seals the sessions).
"""

from router import ActionWizard, Agent, MessageContext

agent = Agent("wizard")
signup = ActionWizard("signup", dm=True)
signup.select("plan", "Pick a plan", [("free", "Free"), ("pro", "Pro")])
signup.text("name", "Your name?")


@signup.on_complete
async def done(answers: dict[str, str], ctx: MessageContext) -> None:
    await ctx.send_text(f"welcome {answers['name']}, you are on the {answers['plan']} plan")


@signup.on_cancel
async def cancelled(ctx: MessageContext) -> None:
    await ctx.send_text("signup cancelled")


agent.use(signup.middleware())


@agent.on("text")
async def hint(ctx: MessageContext) -> None:
    await ctx.send_text("say /signup")
