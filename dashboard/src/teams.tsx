// Teams: the caller's (all of them for admins), a form to found one, and a team's members with
// their roles.
import { FormEvent, useCallback, useEffect, useState } from "react";
import { MemberAddRoleEnum } from "@api";
import type { MemberView, TeamView, UserView } from "@api";

import { Apis, Problem, problemOf } from "./client";
import { Banner, Confirm, Field, TableHead } from "./form";
import { cleared, enumValue, fieldError, unshown, useAction } from "./hooks";
import { href } from "./route";

/** The team roles, as the API's document lists them. */
const TEAM_ROLES: MemberAddRoleEnum[] = Object.values(MemberAddRoleEnum);

function teamRole(s: string): MemberAddRoleEnum {
  return enumValue(MemberAddRoleEnum, s, MemberAddRoleEnum.Member);
}

export function TeamsPage(props: { api: Apis }): JSX.Element {
  const { api } = props;
  const [teams, setTeams] = useState<TeamView[] | null>(null);
  const [name, setName] = useState("");
  const [problem, setProblem] = useState<Problem | null>(null);

  const load = useCallback(async () => {
    try {
      setTeams((await api.teams.listTeams({ limit: 100 })).items);
    } catch (e) {
      setProblem(await problemOf(e));
    }
  }, [api]);

  useEffect(() => {
    void load();
  }, [load]);

  async function create(e: FormEvent): Promise<void> {
    e.preventDefault();
    setProblem(null);
    try {
      const sent = name.trim();
      await api.teams.createTeam({ teamCreate: { name: sent } });
      setName(cleared(sent));
      await load();
    } catch (err) {
      setProblem(await problemOf(err));
    }
  }

  const fields = problem?.fields ?? {};
  const nameError = fields["name"] ?? (problem?.code === "name_taken" ? problem.detail : undefined);
  return (
    <main className="page">
      <h1>Teams</h1>
      {problem !== null && nameError === undefined && Object.keys(fields).length === 0 ? <Banner>{problem.detail}</Banner> : null}
      {teams === null ? null : teams.length === 0 ? (
        <p className="empty">No teams yet.</p>
      ) : (
        <ul className="list" aria-label="Teams">
          {teams.map((t) => (
            <li key={t.id}>
              <a href={href({ page: "team", id: t.id })}>{t.name}</a>
              {t.description ? <span className="description">{t.description}</span> : null}
            </li>
          ))}
        </ul>
      )}
      <form className="card" onSubmit={(e) => void create(e)} aria-labelledby="new-team-title">
        <h2 id="new-team-title">New team</h2>
        <Field id="team-name" label="Name" value={name} onChange={setName} error={nameError} hint="3 to 100 characters; you become its owner." />
        <button type="submit" className="primary">
          Found the team
        </button>
      </form>
    </main>
  );
}

export function TeamPage(props: { api: Apis; id: string; admin: boolean }): JSX.Element {
  const { api, id, admin } = props;
  const [team, setTeam] = useState<TeamView | null>(null);
  const [members, setMembers] = useState<MemberView[] | null>(null);
  const [users, setUsers] = useState<UserView[]>([]);
  const [userId, setUserId] = useState("");
  const [role, setRole] = useState<MemberAddRoleEnum>(MemberAddRoleEnum.Member);
  const [problem, setProblem] = useState<Problem | null>(null);

  const load = useCallback(async () => {
    try {
      const [t, m] = await Promise.all([api.teams.getTeam({ id }), api.teams.listMembers({ id })]);
      setTeam(t);
      setMembers(m);
      if (admin) {
        setUsers((await api.users.listUsers({ limit: 100 })).items);
      }
      setProblem(null);
    } catch (e) {
      setProblem(await problemOf(e));
    }
  }, [api, id, admin]);

  useEffect(() => {
    void load();
  }, [load]);

  async function act(run: () => Promise<unknown>): Promise<void> {
    setProblem(null);
    try {
      await run();
      await load();
    } catch (err) {
      setProblem(await problemOf(err));
    }
  }

  const fields = problem?.fields ?? {};
  const candidates = users.filter((u) => !(members ?? []).some((m) => m.userId === u.id));
  return (
    <main className="page">
      <p className="crumbs">
        <a href={href({ page: "teams" })}>Teams</a>
      </p>
      <h1>{team?.name ?? "Team"}</h1>
      {problem !== null ? <Banner>{problem.fields["role"] ?? problem.detail}</Banner> : null}
      {members === null ? null : (
        <table className="projects" aria-label="Members">
          <TableHead columns={["Member", "Role"]} hidden="Remove" />
          <tbody>
            {members.map((m) => (
              <tr key={m.userId}>
                <th scope="row">{m.username}</th>
                <td data-label="Role">
                  <select
                    aria-label={`Role of ${m.username}`}
                    value={m.role}
                    onChange={(e) => void act(() => api.teams.updateMember({ id, userId: m.userId, memberUpdate: { role: teamRole(e.target.value) } }))}
                  >
                    {TEAM_ROLES.map((r) => (
                      <option key={r} value={r}>
                        {r}
                      </option>
                    ))}
                  </select>
                </td>
                <td>
                  <button
                    type="button"
                    className="danger-outline"
                    aria-label={`Remove ${m.username}`}
                    onClick={() => void act(() => api.teams.removeMember({ id, userId: m.userId }))}
                  >
                    Remove
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form
        className="card"
        aria-labelledby="add-member-title"
        onSubmit={(e) => {
          e.preventDefault();
          void act(() => api.teams.addMember({ id, memberAdd: { userId: userId.trim(), role } }));
        }}
      >
        <h2 id="add-member-title">Add a member</h2>
        {admin ? (
          <div className="field">
            <label htmlFor="member-user">User</label>
            <select id="member-user" value={userId} onChange={(e) => setUserId(e.target.value)}>
              <option value="">Choose…</option>
              {candidates.map((u) => (
                <option key={u.id} value={u.id}>
                  {u.username}
                </option>
              ))}
            </select>
          </div>
        ) : (
          <Field id="member-user" label="User id" value={userId} onChange={setUserId} error={fields["user_id"]} hint="The id of their account (an admin can tell it)." />
        )}
        <div className="field">
          <label htmlFor="member-role">Role</label>
          <select id="member-role" value={role} onChange={(e) => setRole(teamRole(e.target.value))}>
            {TEAM_ROLES.map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        </div>
        <button type="submit" className="primary">
          Add
        </button>
      </form>
      {team !== null ? <TeamSettings api={api} team={team} onSaved={() => void load()} /> : null}
    </main>
  );
}

/** The team's name and description (owners and admins), and deleting it (its projects stay with their owners). */
function TeamSettings(props: { api: Apis; team: TeamView; onSaved: () => void }): JSX.Element {
  const { api, team } = props;
  const [name, setName] = useState(team.name);
  const [description, setDescription] = useState(team.description ?? "");
  const action = useAction();
  const p = action.problem;
  const nameError = fieldError(p, "name") ?? (p?.code === "name_taken" ? p.detail : undefined);
  const other = nameError === undefined ? unshown(p, ["name", "description"]) : null;
  return (
    <section className="card" aria-labelledby="team-settings-title">
      <h2 id="team-settings-title">Team settings</h2>
      {other !== null ? <Banner>{other.detail}</Banner> : null}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          const teamUpdate = { name: name.trim(), description: description.trim() };
          void action.run(() => api.teams.updateTeam({ id: team.id, teamUpdate })).then((ok) => ok && props.onSaved());
        }}
      >
        <Field id="team-rename" label="Team name" value={name} onChange={setName} error={nameError} />
        <Field id="team-description" label="Team description" value={description} onChange={setDescription} error={fieldError(p, "description")} />
        <button type="submit" className="primary" disabled={action.busy}>
          Save
        </button>
      </form>
      <p className="actions">
        <Confirm
          label="Delete the team…"
          group="Confirm deleting the team"
          question="Its projects stay with their owners."
          action={`Delete ${team.name}`}
          onConfirm={() =>
            void action.run(() => api.teams.deleteTeam({ id: team.id })).then((ok) => {
              if (ok) {
                window.location.hash = href({ page: "teams" });
              }
            })
          }
        />
      </p>
    </section>
  );
}
